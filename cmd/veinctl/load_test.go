package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/api"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/keyring"
	"github.com/qingshan-gov/veinkiosk/server/password"
	"github.com/qingshan-gov/veinkiosk/server/store"
	"github.com/qingshan-gov/veinkiosk/server/store/sqlite"
)

// TestLoadAgainstServer runs a small veinctl load against a real centrald
// server (embedded store, real listener) and checks the report.
func TestLoadAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts synthetic images: seconds of CPU")
	}
	ctx := context.Background()
	// The load test seeds its residents without deduplication: the server
	// runs with --bulk-enrolment=unchecked.
	srv, addr := loadServer(t, apiv1.BulkUnchecked)
	// The server becomes ready (its gallery loaded) only after the load
	// has started: the load waits for it instead of failing.
	readyAt := time.AfterFunc(1500*time.Millisecond, srv.SetReady)
	defer readyAt.Stop()

	var stdout, stderr bytes.Buffer
	err := runLoad(ctx, []string{"--server", "http://" + addr, "--admin-password", "admin password 1",
		"--kiosks", "2", "--residents", "30", "--extracted", "2", "--probes", "1", "--enrolments", "1", "--duration", "1s", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, stderr.String())
	}
	var res loadResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if !strings.Contains(stderr.String(), "server not ready") {
		t.Errorf("the load did not report waiting for the server:\n%s", stderr.String())
	}
	if res.Verifications == 0 || res.Errors != 0 || res.VerificationsPerSecond <= 0 || res.P99Ms < res.P50Ms || res.Genuine+res.Impostor != res.Verifications {
		t.Fatalf("result: %+v", res)
	}
	// Every verification's template was extracted by the server from the
	// attested image (some probes may fail the quality gate: recaptures).
	if res.Extractions < res.Verifications || res.ExtractMeanMs <= 0 || res.ServerCPUMsPerVerification <= 0 || res.LoadCPUMsPerVerification <= 0 {
		t.Fatalf("server extractions %d (mean %.1f ms) for %d verifications; CPU per verification: server %.1f ms, load %.1f ms", res.Extractions, res.ExtractMeanMs, res.Verifications, res.ServerCPUMsPerVerification, res.LoadCPUMsPerVerification)
	}
	if res.GalleryTemplates != 30*6 || res.EnrolmentsViaKiosk != 1 || res.BulkRefused != 0 {
		t.Fatalf("gallery %d templates", res.GalleryTemplates)
	}
	for _, k := range []string{"verifications_per_second", "p50_ms", "p99_ms", "errors", "false_accepts", "false_rejects"} {
		if !strings.Contains(stdout.String(), `"`+k+`"`) {
			t.Errorf("JSON lacks %s", k)
		}
	}
}

func TestLoadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--kiosks", "0", "--admin-password", "x"},
		{"--residents", "1", "--admin-password", "x"},
		{"--extracted", "5000", "--residents", "10", "--admin-password", "x"},
		{"--impostor", "2", "--admin-password", "x"},
		{"--residents", "10"},
	} {
		t.Setenv("VEINKIOSK_ADMIN_PASSWORD", "")
		if err := runLoad(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// loadServer is a server on a fresh embedded store with an administrator
// ("admin", "admin password 1"), in the given bulk enrolment mode, serving
// on a loopback address; not ready until SetReady.
func loadServer(t *testing.T, bulk string) (*api.Server, string) {
	t.Helper()
	ctx := context.Background()
	ring, err := keyring.New("k", map[string][]byte{"k": bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.OpenDir(ctx, t.TempDir(), store.Options{Keyring: ring, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hash, err := password.HashWith("admin password 1", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateStaff(ctx, audit.System("test"), store.Staff{Username: "admin", Role: store.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: st, Logger: quiet, VerifyThreshold: 0.30, DedupThreshold: 0.32, IdentifyThreshold: 0.32, BulkEnrolment: bulk,
		KioskRate: 10000, KioskBurst: 10000, KioskFailures: 1000, Lockout: store.LockoutPolicy{MaxFailures: 100, LockFor: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.App().Listener(ln)
	t.Cleanup(func() { srv.App().Shutdown() })
	return srv, ln.Addr().String()
}

// TestLoadBulkRefused: against a server whose bulk enrolment is off (the
// default) or in migrate mode, the load stops at the bulk enrolment and
// says how to start the server.
func TestLoadBulkRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts synthetic images")
	}
	for _, mode := range []string{apiv1.BulkOff, apiv1.BulkMigrate} {
		t.Run(mode, func(t *testing.T) {
			srv, addr := loadServer(t, mode)
			srv.SetReady()
			var stdout, stderr bytes.Buffer
			err := runLoad(context.Background(), []string{"--server", "http://" + addr, "--admin-password", "admin password 1",
				"--kiosks", "1", "--residents", "2", "--extracted", "2", "--probes", "1", "--enrolments", "0", "--duration", "1s", "--json"}, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), "--bulk-enrolment=unchecked") {
				t.Fatalf("load against a server in mode %s: %v", mode, err)
			}
		})
	}
}
