package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestScripted runs `demo --scripted` in process: server, population,
// simulators and kiosk, then the whole journey (card, finger, a 低保
// renewal, the officer's approval, the reply at the kiosk).
func TestScripted(t *testing.T) {
	if testing.Short() {
		t.Skip("the scripted demo takes about half a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out, errs bytes.Buffer
	err := run(ctx, []string{"--scripted", "--residents", "1000", "--enrol-now", "8"}, &out, &errs)
	t.Log(out.String())
	if err != nil {
		t.Fatalf("demo --scripted: %v\n%s", err, errs.String())
	}
	for _, want := range []string{"step 1:", "finger verified", "filed: reference QS-", "approved", "my filings", "PASS"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestParse(t *testing.T) {
	var errs bytes.Buffer
	if _, err := parse([]string{"--residents", "3"}, &errs); err == nil {
		t.Error("3 residents accepted")
	}
	o, err := parse([]string{"--scripted"}, &errs)
	if err != nil || !strings.HasSuffix(o.kiosk, ":0") {
		t.Errorf("scripted mode must use free ports: %+v %v", o, err)
	}
}
