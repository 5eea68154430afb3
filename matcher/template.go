package matcher

import "fmt"

// Template is an enrolled or probe finger-vein template.
type Template struct {
	// Algorithm is the AlgorithmVersion the template was made by.
	Algorithm uint16
	// ParamsHash is Params.ParamsHash of the parameters it was made with.
	ParamsHash uint32
	// ShiftRows and ShiftCols are the Params the comparison uses (Miura's
	// ch and cw); they are covered by ParamsHash.
	ShiftRows, ShiftCols int
	// Quality is the extraction quality, 0 (worst) to 100 (best).
	Quality uint8
	// Finger is the ISO/IEC 19794 finger position 0..10 (0 = unknown,
	// 1..5 right thumb..little, 6..10 left thumb..little).
	Finger uint8
	// Vein is the binary vein pattern (1 = vein), already ANDed with the
	// finger mask. Its geometry is Params.Width x Params.Height.
	Vein *Pattern
	// Mask is the finger region (1 = finger), optional; it has the
	// geometry of Vein when present. Comparison does not use it.
	Mask *Pattern
}

// NewTemplate assembles a template made with params. mask may be nil. The
// patterns are referenced, not copied.
func NewTemplate(params Params, vein, mask *Pattern, quality, finger uint8) (*Template, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	t := &Template{
		Algorithm:  AlgorithmVersion,
		ParamsHash: params.ParamsHash(),
		ShiftRows:  params.ShiftRows,
		ShiftCols:  params.ShiftCols,
		Quality:    quality,
		Finger:     finger,
		Vein:       vein,
		Mask:       mask,
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if vein.W != params.Width || vein.H != params.Height {
		return nil, fmt.Errorf("%w: vein pattern %dx%d, params say %dx%d",
			ErrTemplate, vein.W, vein.H, params.Width, params.Height)
	}
	return t, nil
}

// Validate checks that the fields of t agree with each other.
func (t *Template) Validate() error {
	if t == nil {
		return fmt.Errorf("%w: nil template", ErrTemplate)
	}
	if t.Vein == nil {
		return fmt.Errorf("%w: no vein pattern", ErrTemplate)
	}
	if err := t.Vein.Validate(); err != nil {
		return fmt.Errorf("%w: vein: %w", ErrTemplate, err)
	}
	if t.Vein.W > MaxWidth || t.Vein.H > MaxHeight {
		return fmt.Errorf("%w: vein pattern %dx%d larger than %dx%d",
			ErrTemplate, t.Vein.W, t.Vein.H, MaxWidth, MaxHeight)
	}
	if t.Mask != nil {
		if err := t.Mask.Validate(); err != nil {
			return fmt.Errorf("%w: mask: %w", ErrTemplate, err)
		}
		if t.Mask.W != t.Vein.W || t.Mask.H != t.Vein.H {
			return fmt.Errorf("%w: mask %dx%d, vein %dx%d",
				ErrTemplate, t.Mask.W, t.Mask.H, t.Vein.W, t.Vein.H)
		}
	}
	if t.ShiftRows < 0 || t.ShiftRows > MaxShift || 2*t.ShiftRows >= t.Vein.H ||
		t.ShiftCols < 0 || t.ShiftCols > MaxShift || 2*t.ShiftCols >= t.Vein.W {
		return fmt.Errorf("%w: shifts %dx%d for a %dx%d pattern",
			ErrTemplate, t.ShiftRows, t.ShiftCols, t.Vein.W, t.Vein.H)
	}
	if t.Quality > 100 {
		return fmt.Errorf("%w: quality %d above 100", ErrTemplate, t.Quality)
	}
	if t.Finger > 10 {
		return fmt.Errorf("%w: finger position %d above 10", ErrTemplate, t.Finger)
	}
	return nil
}

// compatible reports why a and b cannot be compared, or nil.
func compatible(a, b *Template) error {
	if a == nil || b == nil || a.Vein == nil || b.Vein == nil {
		return fmt.Errorf("%w: missing template or vein pattern", ErrIncompatible)
	}
	switch {
	case a.Algorithm != b.Algorithm:
		return fmt.Errorf("%w: algorithm versions %d and %d", ErrIncompatible, a.Algorithm, b.Algorithm)
	case a.Algorithm != AlgorithmVersion:
		return fmt.Errorf("%w: algorithm version %d, this matcher is %d", ErrIncompatible, a.Algorithm, AlgorithmVersion)
	case a.ParamsHash != b.ParamsHash:
		return fmt.Errorf("%w: params hashes %08x and %08x", ErrIncompatible, a.ParamsHash, b.ParamsHash)
	case a.Vein.W != b.Vein.W || a.Vein.H != b.Vein.H:
		return fmt.Errorf("%w: geometries %dx%d and %dx%d", ErrIncompatible, a.Vein.W, a.Vein.H, b.Vein.W, b.Vein.H)
	case a.ShiftRows != b.ShiftRows || a.ShiftCols != b.ShiftCols:
		return fmt.Errorf("%w: shifts %dx%d and %dx%d", ErrIncompatible, a.ShiftRows, a.ShiftCols, b.ShiftRows, b.ShiftCols)
	}
	return nil
}
