package sam

import (
	"fmt"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// ReadData is the data of a successful read response (30 01 or 30 10):
//
//	30 01: text_len(2) photo_len(2) text photo
//	30 10: text_len(2) photo_len(2) fp_len(2) text photo fingerprint
//
// with big-endian lengths.
type ReadData struct {
	Text        []byte // 256 bytes
	Photo       []byte // up to 1024 bytes (WLT)
	Fingerprint []byte // 30 10 only, up to 1024 bytes
}

func withFinger(op Op) (bool, error) {
	switch op {
	case OpReadText:
		return false, nil
	case OpReadTextFinger:
		return true, nil
	}
	return false, fmt.Errorf("sam: %v is not a card read", op)
}

// DecodeReadData decodes the data of a successful response to op (OpReadText
// or OpReadTextFinger). The slices alias data.
func DecodeReadData(op Op, data []byte) (ReadData, error) {
	fp, err := withFinger(op)
	if err != nil {
		return ReadData{}, err
	}
	hdr := 4
	if fp {
		hdr = 6
	}
	if len(data) < hdr {
		return ReadData{}, fmt.Errorf("%w: read data of %d bytes has no length header", ErrLength, len(data))
	}
	be := func(i int) int { return int(data[i])<<8 | int(data[i+1]) }
	tl, pl, fl := be(0), be(2), 0
	if fp {
		fl = be(4)
	}
	switch {
	case tl != TextLen:
		return ReadData{}, fmt.Errorf("%w: text length %d, want %d", ErrLength, tl, TextLen)
	case pl > PhotoLen:
		return ReadData{}, fmt.Errorf("%w: photo length %d above %d", ErrLength, pl, PhotoLen)
	case fl > FingerprintLen:
		return ReadData{}, fmt.Errorf("%w: fingerprint length %d above %d", ErrLength, fl, FingerprintLen)
	case len(data) != hdr+tl+pl+fl:
		return ReadData{}, fmt.Errorf("%w: read data of %d bytes, the lengths say %d", ErrLength, len(data), hdr+tl+pl+fl)
	}
	rd := ReadData{Text: data[hdr : hdr+tl], Photo: data[hdr+tl : hdr+tl+pl]}
	if fp {
		rd.Fingerprint = data[hdr+tl+pl:]
	}
	return rd, nil
}

// Append appends the response data for op to dst.
func (rd ReadData) Append(dst []byte, op Op) ([]byte, error) {
	fp, err := withFinger(op)
	if err != nil {
		return dst, err
	}
	switch {
	case len(rd.Text) != TextLen:
		return dst, fmt.Errorf("%w: text of %d bytes", ErrLength, len(rd.Text))
	case len(rd.Photo) > PhotoLen:
		return dst, fmt.Errorf("%w: photo of %d bytes", ErrLength, len(rd.Photo))
	case len(rd.Fingerprint) > FingerprintLen:
		return dst, fmt.Errorf("%w: fingerprint of %d bytes", ErrLength, len(rd.Fingerprint))
	}
	dst = append(dst, byte(len(rd.Text)>>8), byte(len(rd.Text)), byte(len(rd.Photo)>>8), byte(len(rd.Photo)))
	if fp {
		dst = append(dst, byte(len(rd.Fingerprint)>>8), byte(len(rd.Fingerprint)))
	}
	dst = append(dst, rd.Text...)
	dst = append(dst, rd.Photo...)
	if fp {
		dst = append(dst, rd.Fingerprint...)
	}
	return dst, nil
}

// DecodeCard decodes the data of a successful read response into an identity.Card,
// copying the photo and fingerprint.
func DecodeCard(op Op, data []byte) (*identity.Card, error) {
	rd, err := DecodeReadData(op, data)
	if err != nil {
		return nil, err
	}
	c, err := DecodeText(rd.Text)
	if err != nil {
		return nil, err
	}
	c.Photo = append([]byte(nil), rd.Photo...)
	if op == OpReadTextFinger {
		c.Fingerprint = append([]byte{}, rd.Fingerprint...)
	}
	return c, nil
}

// EncodeCard returns the data of a successful read response to op for c.
func EncodeCard(c *identity.Card, op Op) ([]byte, error) {
	text, err := EncodeText(c)
	if err != nil {
		return nil, err
	}
	rd := ReadData{Text: text, Photo: c.Photo}
	if op == OpReadTextFinger {
		rd.Fingerprint = c.Fingerprint
	}
	return rd.Append(nil, op)
}

// SAMID is the 16-byte id of a SAM (response data of 12 FF).
type SAMID [16]byte

// String formats the id as reader SDKs print it:
// "AA.BB-CCCCCCCC-DDDDDDDDDD-EEEEEEEEEE" from little-endian fields of 2, 2,
// 4, 4 and 4 bytes.
func (id SAMID) String() string {
	le16 := func(i int) uint32 { return uint32(id[i]) | uint32(id[i+1])<<8 }
	le32 := func(i int) uint32 { return le16(i) | le16(i+2)<<16 }
	return fmt.Sprintf("%02d.%02d-%08d-%010d-%010d", le16(0), le16(2), le32(4), le32(8), le32(12))
}

// DecodeSAMID decodes the data of a successful 12 FF response.
func DecodeSAMID(data []byte) (SAMID, error) {
	var id SAMID
	if len(data) != len(id) {
		return id, fmt.Errorf("%w: SAM id of %d bytes, want 16", ErrLength, len(data))
	}
	copy(id[:], data)
	return id, nil
}
