package matcher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// AlgorithmVersion identifies the semantics of extraction and comparison.
// It is stored in every template; templates of different algorithm versions
// are never compared. Bump it whenever a change to extraction or comparison
// would change scores of existing templates.
const AlgorithmVersion = 1

// Sentinel errors of the package.
var (
	// ErrIncompatible reports two templates (or a template and a gallery)
	// that cannot be compared: different algorithm version, parameters or
	// geometry.
	ErrIncompatible = errors.New("matcher: incompatible templates")
	// ErrParams reports invalid parameters.
	ErrParams = errors.New("matcher: invalid parameters")
	// ErrTemplate reports a template whose fields do not agree.
	ErrTemplate = errors.New("matcher: invalid template")
)

// Limits on template geometry. They bound the memory a decoded template and
// a prepared probe can take, whatever the input.
const (
	MaxWidth  = 2048
	MaxHeight = 1024
	MaxShift  = 255
)

// Params are the parameters a template is made and compared with. Templates
// are comparable only when they were made with equal Params (same
// ParamsHash) by the same AlgorithmVersion.
type Params struct {
	// Width and Height are the template geometry in pixels.
	Width, Height int
	// ShiftRows and ShiftCols are Miura's ch and cw in template pixels:
	// the enrolled pattern is cropped by that many rows (columns) on each
	// side and compared at every vertical (horizontal) displacement in
	// [-ShiftRows, ShiftRows] ([-ShiftCols, ShiftCols]). They must leave a
	// crop of at least one pixel: 2*ShiftRows < Height, 2*ShiftCols < Width.
	ShiftRows, ShiftCols int
	// Extraction is an opaque, canonical description of the extraction
	// settings (owned by matcher/extract), for example "mc:sigma=5". It
	// enters ParamsHash so that templates extracted differently are never
	// compared.
	Extraction string
}

// DefaultParams are the parameters for templates of 192 x 64 pixels
// (three words per row) with displacements of up to ±8 rows and ±24
// columns. matcher/extract sets Extraction.
var DefaultParams = Params{Width: 192, Height: 64, ShiftRows: 8, ShiftCols: 24}

// Validate checks the parameters.
func (p Params) Validate() error {
	switch {
	case p.Width <= 0 || p.Width > MaxWidth:
		return fmt.Errorf("%w: width %d outside 1..%d", ErrParams, p.Width, MaxWidth)
	case p.Height <= 0 || p.Height > MaxHeight:
		return fmt.Errorf("%w: height %d outside 1..%d", ErrParams, p.Height, MaxHeight)
	case p.ShiftRows < 0 || p.ShiftRows > MaxShift || 2*p.ShiftRows >= p.Height:
		return fmt.Errorf("%w: %d shift rows for height %d", ErrParams, p.ShiftRows, p.Height)
	case p.ShiftCols < 0 || p.ShiftCols > MaxShift || 2*p.ShiftCols >= p.Width:
		return fmt.Errorf("%w: %d shift columns for width %d", ErrParams, p.ShiftCols, p.Width)
	case len(p.Extraction) > 1024:
		return fmt.Errorf("%w: extraction description of %d bytes", ErrParams, len(p.Extraction))
	}
	return nil
}

// ParamsHash is a CRC-32C over a canonical encoding of the parameters and
// AlgorithmVersion. Equal hashes mean comparable templates.
func (p Params) ParamsHash() uint32 {
	var b [16]byte
	binary.LittleEndian.PutUint16(b[0:], AlgorithmVersion)
	binary.LittleEndian.PutUint16(b[2:], uint16(p.Width))
	binary.LittleEndian.PutUint16(b[4:], uint16(p.Height))
	binary.LittleEndian.PutUint16(b[6:], uint16(p.ShiftRows))
	binary.LittleEndian.PutUint16(b[8:], uint16(p.ShiftCols))
	binary.LittleEndian.PutUint32(b[10:], uint32(len(p.Extraction)))
	h := crc32.Update(0, castagnoli, []byte("veinkiosk matcher params\x00"))
	h = crc32.Update(h, castagnoli, b[:14])
	return crc32.Update(h, castagnoli, []byte(p.Extraction))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)
