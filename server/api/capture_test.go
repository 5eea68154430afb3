package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/veinscan/wire"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// TestCaptureBinding: the server compares only a template it extracted
// itself from an image the scanner signed. Each way of presenting a
// template the device did not vouch for gets its own code; a capture
// without the kiosk's template, or whose template is the server's own,
// verifies.
func TestCaptureBinding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	p := e.newPerson("李明", time.Date(1960, 1, 2, 0, 0, 0, 0, time.UTC))
	q := e.newPerson("王五", time.Date(1961, 1, 2, 0, 0, 0, 0, time.UTC))
	e.enrol(e.atKiosk(k, "zhang"), p)
	mine := e.template(p.fingers[apiv1.RightIndex], apiv1.RightIndex, 80)
	theirs := e.template(q.fingers[apiv1.RightIndex], apiv1.RightIndex, 80)
	black := shot{Img: &apiv1.Image{Width: 500, Height: 200, Pixels: make([]byte, 500*200)}}

	// signWith attests image att but sends the capture c (the image the
	// kiosk claims), so a test can swap what was signed and what is sent.
	signWith := func(att *apiv1.Image, c shot) apiv1.Capture {
		n := must[*apiv1.NonceResponse](t)(k.Nonce(ctx))
		capt := k.scanner.sign(t, n.Nonce, apiv1.RightIndex, shot{Img: att})
		capt.Template, capt.Image = c.Tmpl, c.Img
		return capt
	}
	tests := []struct {
		name string
		capt apiv1.Capture
		code string
	}{
		{"the resident's own template, as extracted", k.capture(apiv1.RightIndex, mine), ""},
		{"no kiosk template: the server's extraction only", k.capture(apiv1.RightIndex, shot{Img: mine.Img}), ""},
		{"another resident's template beside the resident's attested image", signWith(mine.Img, shot{Img: mine.Img, Tmpl: theirs.Tmpl}), apiv1.CodeTemplateMismatch},
		{"the resident's template beside another's attested image", signWith(theirs.Img, shot{Img: theirs.Img, Tmpl: mine.Tmpl}), apiv1.CodeTemplateMismatch},
		{"the resident's template beside an attested black image", signWith(black.Img, shot{Img: black.Img, Tmpl: mine.Tmpl}), apiv1.CodeImageUnusable},
		{"an attested black image alone", signWith(black.Img, black), apiv1.CodeImageUnusable},
		{"the resident's image sent after another was signed", signWith(theirs.Img, mine), apiv1.CodeImageMismatch},
		{"no image", signWith(mine.Img, shot{Tmpl: mine.Tmpl}), apiv1.CodeImageInvalid},
		{"bytes that are not width x height", signWith(mine.Img, shot{Img: &apiv1.Image{Width: 500, Height: 201, Pixels: mine.Img.Pixels}}), apiv1.CodeImageInvalid},
		{"an image over the pixel limit", signWith(mine.Img, shot{Img: &apiv1.Image{Width: 4096, Height: 4096}}), apiv1.CodeImageInvalid},
		{"an image below the side limit", func() apiv1.Capture {
			small := &apiv1.Image{Width: 40, Height: 40, Pixels: bytes.Repeat([]byte{9}, 1600)}
			return signWith(small, shot{Img: small})
		}(), apiv1.CodeImageInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Verify(ctx, &apiv1.VerifyRequest{Card: p.card, Capture: tt.capt})
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantCode(t, err, tt.code)
		})
	}
	// Enrolment and identification run the same capture step.
	req := e.enrolRequest(e.atKiosk(k, "zhang"), q)
	req.Fingers[0].Captures[1].Template = mine.Tmpl
	_, err := e.loginAtKiosk(k, "zhang").Enrol(ctx, req)
	wantCode(t, err, apiv1.CodeTemplateMismatch)
}

// TestDecodeImage: every malformed image is errImageInvalid with a
// reason; a good one is wrapped without a copy.
func TestDecodeImage(t *testing.T) {
	px := make([]byte, 100*64)
	for _, tt := range []struct {
		name string
		im   *apiv1.Image
		ok   bool
	}{
		{"nil", nil, false},
		{"zero", &apiv1.Image{}, false},
		{"negative", &apiv1.Image{Width: -100, Height: -64, Pixels: px}, false},
		{"too narrow", &apiv1.Image{Width: 63, Height: 100, Pixels: px[:6300]}, false},
		{"too wide", &apiv1.Image{Width: wire.MaxImageSide + 1, Height: 64}, false},
		{"too many pixels", &apiv1.Image{Width: 2048, Height: 1024}, false},
		{"short", &apiv1.Image{Width: 100, Height: 64, Pixels: px[:len(px)-1]}, false},
		{"long", &apiv1.Image{Width: 100, Height: 64, Pixels: append(px, 0)}, false},
		{"overflowing product", &apiv1.Image{Width: 1 << 40, Height: 1 << 40}, false},
		{"good", &apiv1.Image{Width: 100, Height: 64, Pixels: px}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := decodeImage(tt.im)
			if tt.ok {
				if err != nil || &g.Pix[0] != &px[0] || g.Rect.Dx() != 100 || g.Rect.Dy() != 64 {
					t.Fatalf("decodeImage = %v, %v", g, err)
				}
				return
			}
			if !errors.Is(err, errImageInvalid) || !strings.Contains(err.Error(), "image") {
				t.Fatalf("decodeImage = %v, want errImageInvalid", err)
			}
		})
	}
}

// FuzzCaptureImage feeds arbitrary images through the server's capture
// image path: decodeImage, the digest check and the extraction. Every
// input ends in a template or one of the capture step's image errors,
// never a panic or another error.
func FuzzCaptureImage(f *testing.F) {
	good := newFinger().Shot(f, apiv1.RightIndex, true)
	f.Add(good.Img.Width, good.Img.Height, good.Img.Pixels)
	f.Add(500, 200, make([]byte, 500*200))
	f.Add(64, 64, bytes.Repeat([]byte{0x80, 0x10}, 64*32))
	f.Add(64, 65, make([]byte, 64*64))
	f.Add(0, 0, []byte{})
	f.Add(-1, 5, []byte{1, 2, 3})
	f.Add(4096, 4096, []byte{})
	e := newEnv(f)
	x, p := e.srv.extractor, &e.srv.extractor.pipelines[0]
	f.Fuzz(func(t *testing.T, w, h int, pix []byte) {
		im := &apiv1.Image{Width: w, Height: h, Pixels: pix}
		g, err := decodeImage(im)
		if err != nil {
			if !errors.Is(err, errImageInvalid) {
				t.Fatalf("decodeImage: %v", err)
			}
			return
		}
		att := wire.Attestation{ImageSHA256: sha256.Sum256(pix)}
		if err := att.VerifyImage(g.Pix); err != nil {
			t.Fatalf("the digest of the decoded image differs: %v", err)
		}
		tm, err := x.extract(context.Background(), p, g, 2)
		switch {
		case errors.Is(err, errImageUnusable):
		case err != nil:
			t.Fatalf("extract: %v", err)
		case tm == nil || tm.Finger != 2 || tm.ParamsHash != p.params.ParamsHash():
			t.Fatalf("extract = %+v", tm)
		}
	})
}
