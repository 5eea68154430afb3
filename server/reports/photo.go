package reports

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers the JPEG decoder for DecodeConfig
	_ "image/png"  // registers the PNG decoder for DecodeConfig
)

// Photo limits: a phone photo re-encoded by the kiosk or the desk fits well
// within them; anything larger is refused rather than scaled.
const (
	MaxPhotoBytes = 2 << 20 // 2 MiB
	MaxPhotoSide  = 4096    // pixels, either side
)

// Photo errors.
var (
	ErrPhotoTooLarge = errors.New("reports: photo too large")
	ErrPhotoType     = errors.New("reports: photo is not a JPEG or PNG image")
)

// CheckPhoto checks a report's photo: at most MaxPhotoBytes, a JPEG or PNG
// by its content (the claimed media type is not trusted), whose header
// decodes and whose sides are 1..MaxPhotoSide pixels (a small file that
// claims a huge image is refused before anything decodes its pixels). It
// returns the media type.
func CheckPhoto(b []byte) (string, error) {
	if len(b) > MaxPhotoBytes {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrPhotoTooLarge, len(b), MaxPhotoBytes)
	}
	var want string
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		want = "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		want = "png"
	default:
		return "", fmt.Errorf("%w: unknown signature", ErrPhotoType)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPhotoType, err)
	}
	if format != want {
		return "", fmt.Errorf("%w: signature %s, decoded as %s", ErrPhotoType, want, format)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPhotoSide || cfg.Height > MaxPhotoSide {
		return "", fmt.Errorf("%w: %dx%d pixels, at most %d a side", ErrPhotoTooLarge, cfg.Width, cfg.Height, MaxPhotoSide)
	}
	return "image/" + format, nil
}
