// Package ui holds the kiosk's touchscreen UI: plain HTML, CSS and
// JavaScript embedded in the daemon (no CDN, no build step). The page
// renders the daemon's View, received over server-sent events, in
// Simplified Chinese or English, and posts touches back.
package ui

import "embed"

// FS holds static/index.html, static/kiosk.css and static/kiosk.js.
//
//go:embed static
var FS embed.FS
