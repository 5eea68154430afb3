package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/devices/idcard"
	"github.com/qingshan-gov/veinkiosk/devices/idcard/sam"
	"github.com/qingshan-gov/veinkiosk/simulators/deck"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitLine waits for a stdout line starting with prefix and returns the rest.
func waitLine(t *testing.T, out *lockedBuffer, prefix string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, prefix) {
				return strings.TrimPrefix(l, prefix)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q line in stdout:\n%s", prefix, out.String())
	return ""
}

func TestDevsimIDCard(t *testing.T) {
	d := deck.Generate(42, 30)
	first, second := d.Residents[0], d.Residents[5]
	consoleInput = strings.NewReader("insert " + first.IDNumber + "\n")
	defer func() { consoleInput = os.Stdin }()

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runIDCard(ctx, []string{"--fast", "--residents", "30"}, &stdout, &stderr)
	}()
	path := waitLine(t, &stdout, "device: ")
	url := waitLine(t, &stdout, "control: ")
	if !strings.HasPrefix(strings.Split(stdout.String(), "\n")[0], "device: /dev/pts/") {
		t.Fatalf("first stdout line is not the device: %q", stdout.String())
	}
	waitLine(t, &stdout, "ok inserted")

	dev, err := idcard.Open(idcard.Options{Port: path, CommandTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	c, err := dev.Read(rctx)
	if err != nil || c.IDNumber != first.IDNumber {
		t.Fatalf("card inserted on the console: %v, %v", c, err)
	}

	resp, err := http.Post(url+"/card", "application/json", strings.NewReader(`{"id_number":"`+second.IDNumber+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /card: %d %s", resp.StatusCode, body)
	}
	if c, err = dev.Read(rctx); err != nil || c.IDNumber != second.IDNumber {
		t.Fatalf("card inserted over HTTP: %v, %v", c, err)
	}

	// Replug prints the new device.
	resp, err = http.Post(url+"/unplug", "application/json", nil)
	if err == nil {
		resp.Body.Close()
		resp, err = http.Post(url+"/replug", "application/json", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(stdout.String(), "device: ") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Count(stdout.String(), "device: ") < 2 {
		t.Fatalf("replug not announced:\n%s", stdout.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v (stderr %s)", err, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("devsim idcard did not stop on cancel")
	}
}

func TestDevsimIDCardFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--residents", "0"},
		{"--deck", "/nonexistent.json"},
		{"--insert", "150204190001010000", "--residents", "3"},
		{"stray"},
	} {
		var out, errb bytes.Buffer
		if err := runIDCard(context.Background(), args, &out, &errb); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestDevsimIDCardNewcomer: the README's two commands. Started with no
// flags but --fast (and no console here), the reader holds the first resident's card, so the
// first "veinctl card read" gets a card; --insert none starts empty.
func TestDevsimIDCardNewcomer(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		empty bool
	}{
		{[]string{"--fast", "--residents", "5", "--console=false"}, false},
		{[]string{"--fast", "--residents", "5", "--console=false", "--insert", "none"}, true},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr lockedBuffer
		done := make(chan error, 1)
		go func() { done <- runIDCard(ctx, tc.args, &stdout, &stderr) }()
		path := waitLine(t, &stdout, "device: ")
		dev, err := idcard.Open(idcard.Options{Port: path, CommandTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c, err := dev.ReadOnce(context.Background())
		dev.Close()
		if tc.empty {
			if !errors.Is(err, sam.ErrNoCard) {
				t.Errorf("%v: read %v, %v; want no card", tc.args, c, err)
			}
		} else if err != nil || c.IDNumber != deck.Generate(42, 5).Residents[0].IDNumber {
			t.Errorf("%v: read %v, %v; want the first resident's card", tc.args, c, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stderr.String(), "veinctl card read --port "+path) {
			t.Errorf("no hint how to read the card: %s", stderr.String())
		}
	}
}
