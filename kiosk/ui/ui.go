// Package ui holds the kiosk's touchscreen UI: plain HTML, CSS and
// JavaScript embedded in the daemon (no CDN, no build step). The page
// renders the daemon's View, received over server-sent events, in
// Simplified Chinese or English, and posts touches back.
package ui

import (
	"embed"
	"mime"
)

//go:generate go run genpinyin.go

// FS holds static/index.html, kiosk.css and kiosk.js, the modules beside
// them (printer.js, voice.js and their CSS; the keyboard: keyboard.js,
// keyboard.css, pinyin.txt and its licence LICENSE-UNICODE.txt; the finger
// guidance: guidance.js, the enrolled fingers on a picture of both hands)
// and the voice prompts (static/voice: prompts.json and one Ogg Opus file
// per prompt, made by scripts/gen-voice.sh).
//
//go:embed static
var FS embed.FS

func init() {
	// Ogg Opus prompts; not in Go's built-in table, and a fresh machine
	// may have no /etc/mime.types.
	mime.AddExtensionType(".opus", "audio/ogg")
}
