package kiosk_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/qingshan-gov/veinkiosk/kiosk/kiosktest"
)

type voiceState struct {
	Key     string  `json:"key"`
	Src     string  `json:"src"`
	Ready   int     `json:"ready"`
	Errors  int     `json:"errors"`
	Muted   bool    `json:"muted"`
	Volume  float64 `json:"volume"`
	Playing bool    `json:"playing"`
}

func voiceNow(t *testing.T, ctx context.Context) voiceState {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[voiceState](`(() => ({key: VOICE.key, src: VOICE.audio ? VOICE.audio.src : "",
	  ready: VOICE.audio ? VOICE.audio.readyState : 0, errors: VOICE.errors, muted: VOICE.muted, volume: VOICE.volume,
	  playing: !!VOICE.audio && !VOICE.audio.paused}))()`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hearVoice waits until the screen's prompt is key and its audio is loaded
// and decoded (readyState >= 2) without an error.
func hearVoice(t *testing.T, ctx context.Context, key string) voiceState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := voiceNow(t, ctx)
		if v.Errors > 0 {
			t.Fatalf("voice %s failed to load: %+v", key, v)
		}
		if v.Key == key && v.Ready >= 2 && strings.HasSuffix(v.Src, "/static/voice/"+key+".opus") {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("voice %+v, want %s loaded", v, key)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserVoicePrompts walks a resident's journey and checks that each
// screen, hint and problem plays its own Mandarin prompt, served from the
// files shipped with the UI and decoded by the browser; mute and volume
// work and the next resident hears the kiosk again.
func TestBrowserVoicePrompts(t *testing.T) {
	r := newRig(t)
	ctx := browser(t, 1080, 1920)
	if err := chromedp.Do(ctx, chromedp.Navigate(r.url)); err != nil {
		t.Fatal(err)
	}
	phase(t, ctx, "idle")
	hearVoice(t, ctx, "phase.idle")

	r.reader.Insert(zhang)
	phase(t, ctx, "place_finger")
	if v := hearVoice(t, ctx, "phase.place_finger"); !v.Playing && v.Ready < 2 {
		t.Fatalf("not playing: %+v", v)
	}
	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 15})
	hearVoice(t, ctx, "hint.not_flat")

	// Volume and mute.
	before := voiceNow(t, ctx).Volume
	click(t, ctx, "#voicedown")
	if v := voiceNow(t, ctx); v.Volume >= before {
		t.Fatalf("volume %v after 小声, was %v", v.Volume, before)
	}
	click(t, ctx, "#voicemute")
	if v := voiceNow(t, ctx); !v.Muted || v.Playing {
		t.Fatalf("after 静音: %+v", v)
	}

	r.scanner.Place(kiosktest.Finger{Person: "zhang", Quality: 85})
	phase(t, ctx, "menu")
	if v := hearVoice(t, ctx, "phase.menu"); !v.Muted || v.Playing {
		t.Fatalf("muted, yet playing: %+v", v)
	}
	click(t, ctx, "#voicemute")
	if v := voiceNow(t, ctx); v.Muted {
		t.Fatalf("still muted: %+v", v)
	}
	click(t, ctx, `button[data-act="choose"][data-arg="dibao_renewal"]`)
	phase(t, ctx, "form")
	hearVoice(t, ctx, "phase.form")
	click(t, ctx, `button[data-act="edit"][data-arg="household_size"]:nth-child(3)`)
	click(t, ctx, `button[data-act="confirm"]`)
	phase(t, ctx, "receipt")
	hearVoice(t, ctx, "phase.receipt")

	// Mute, then the session ends: the next resident hears the kiosk.
	click(t, ctx, "#voicemute")
	r.reader.Remove()
	phase(t, ctx, "idle")
	if v := hearVoice(t, ctx, "phase.idle"); v.Muted {
		t.Fatalf("mute outlived the session: %+v", v)
	}
	// The English screen is silent (no English prompts).
	click(t, ctx, "#lang")
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`html[lang="en"]`))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if v := voiceNow(t, ctx); v.Key != "" || v.Playing {
		t.Fatalf("English screen speaks: %+v", v)
	}
}
