package storetest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// Environment of the child process of CrashTest.
const (
	envCrashChild = "VEINKIOSK_CRASH_CHILD"
	envCrashDSN   = "VEINKIOSK_CRASH_DSN"
)

// OpenDSN opens a store from a data source name (a file path or a URL).
type OpenDSN func(ctx context.Context, dsn string, opts store.Options) (store.Store, error)

// crashWorkers submit filings at once in the child, so the kill lands in
// the middle of several transactions.
const crashWorkers = 4

// CrashTest proves that an acknowledged filing survives kill -9 and that
// retrying an unacknowledged request never creates a second filing.
//
// The test binary re-executes itself (only this test, selected with -run)
// as a child that submits filings in a loop from several goroutines,
// printing each idempotency key before it submits and each reference once
// CreateFiling has returned. The parent kills the child with SIGKILL after
// minAcks acknowledgements, reopens the database and checks that every
// acknowledged filing is present exactly once, with its history row and
// audit event, that retrying every begun key yields exactly one filing per
// key, and that the audit chain is intact.
//
// newDSN makes a fresh database for the parent; the child reuses it.
func CrashTest(t *testing.T, newDSN func(t *testing.T) string, open OpenDSN, minAcks int) {
	if os.Getenv(envCrashChild) == t.Name() {
		crashChild(t, os.Getenv(envCrashDSN), open)
		return
	}
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	dsn := newDSN(t)
	c := ctx(t)
	s, err := open(c, dsn, Options())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, s, crashWorkers)
	s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^"+runPattern(t.Name())+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envCrashChild+"="+t.Name(), envCrashDSN+"="+dsn)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	begun := map[string]bool{}
	acked := map[string]string{} // key -> reference
	lines := bufio.NewScanner(out)
	killed := false
	deadline := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		switch {
		case len(fields) == 3 && fields[0] == "CRASHTEST" && fields[1] == "BEGIN":
			begun[fields[2]] = true
		case len(fields) == 4 && fields[0] == "CRASHTEST" && fields[1] == "ACK":
			acked[fields[2]] = fields[3]
		case len(fields) >= 2 && fields[0] == "CRASHTEST" && fields[1] == "ERROR":
			t.Errorf("child: %s", lines.Text())
		}
		if !killed && len(acked) >= minAcks {
			// SIGKILL: no deferred function, no Close, no flush runs.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("child ended before %d acknowledgements (%d): %v", minAcks, len(acked), werr)
	}
	t.Logf("killed the child after %d acknowledged filings, %d begun", len(acked), len(begun))

	s, err = open(c, dsn, Options())
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer s.Close()
	byKey := map[string][]store.Filing{}
	var all []store.Filing
	for after := int64(0); ; {
		page, err := s.ListFilings(c, store.FilingFilter{AfterID: after, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].ID
	}
	for _, fl := range all {
		byKey[fl.IdempotencyKey] = append(byKey[fl.IdempotencyKey], fl)
	}
	for key, ref := range acked {
		fs := byKey[key]
		if len(fs) != 1 || fs[0].Reference != ref {
			t.Errorf("acknowledged filing %s (%s) is stored %d times: %+v", key, ref, len(fs), fs)
			continue
		}
		hist, err := Inspect(s).FilingHistory(c, fs[0].ID)
		if err != nil || len(hist) != 1 {
			t.Errorf("filing %s has %d history rows: %v", ref, len(hist), err)
		}
	}
	for key, fs := range byKey {
		if !begun[key] {
			t.Errorf("filing with key %s that was never submitted", key)
		}
		if len(fs) != 1 {
			t.Errorf("key %s has %d filings", key, len(fs))
		}
	}
	// Retry everything begun, as a kiosk would after a lost answer.
	created := 0
	for key := range begun {
		w := workerOf(key)
		fl, isNew, err := s.CreateFiling(c, audit.Kiosk(f.kiosk.ID), crashFiling(f.residents[w].IDNumber, f.kiosk.ID, key))
		if err != nil {
			t.Errorf("retrying %s: %v", key, err)
			continue
		}
		if ref, ok := acked[key]; ok && (isNew || fl.Reference != ref) {
			t.Errorf("retry of acknowledged %s gave %s (new %v)", ref, fl.Reference, isNew)
		}
		if isNew {
			created++
		}
	}
	t.Logf("retries created %d filings that had not committed before the kill", created)
	if created > crashWorkers {
		t.Errorf("%d begun-but-unacknowledged keys had no filing; at most %d can be in flight", created, crashWorkers)
	}
	after, err := s.ListFilings(c, store.FilingFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(begun) && len(begun) <= 1000 {
		t.Errorf("%d filings after retries, want one per begun key (%d)", len(after), len(begun))
	}
	rep := verifyChain(t, s)
	creates := 0
	recs, _ := s.ListAudit(c, 0, 100000)
	for _, r := range recs {
		if r.Action == "filing.create" {
			creates++
		}
	}
	if creates != len(after) {
		t.Errorf("%d filing.create audit events for %d filings", creates, len(after))
	}
	t.Logf("audit chain intact: %d records", rep.Records)
}

var keyRE = regexp.MustCompile(`^w(\d+)-\d+$`)

func workerOf(key string) int {
	m := keyRE.FindStringSubmatch(key)
	if m == nil {
		return 0
	}
	var w int
	fmt.Sscan(m[1], &w)
	return w % crashWorkers
}

func crashFiling(idNumber, kioskID, key string) store.NewFiling {
	return store.NewFiling{
		ServiceCode: "dibao-apply", IDNumber: idNumber, KioskID: kioskID, Department: "civil-affairs",
		Form: []byte(`{"crash":true}`), DueAt: time.Now().Add(15 * 24 * time.Hour), IdempotencyKey: key,
	}
}

// crashChild runs in the re-executed test binary until it is killed.
func crashChild(t *testing.T, dsn string, open OpenDSN) {
	c := context.Background()
	s, err := open(c, dsn, Options())
	if err != nil {
		t.Fatal(err)
	}
	kiosks, err := s.ListKiosks(c, "")
	if err != nil || len(kiosks) == 0 {
		t.Fatalf("child: no kiosk: %v", err)
	}
	rs, err := Inspect(s).ListResidents(c, store.ResidentFilter{})
	if err != nil || len(rs) < crashWorkers {
		t.Fatalf("child: residents: %v", err)
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // unbuffered: one write per line
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := 0; w < crashWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				say("CRASHTEST BEGIN %s", key)
				fl, _, err := s.CreateFiling(c, audit.Kiosk(kiosks[0].ID), crashFiling(rs[w].IDNumber, kiosks[0].ID, key))
				if err != nil {
					say("CRASHTEST ERROR %s %v", key, err)
					os.Exit(3)
				}
				say("CRASHTEST ACK %s %s", key, fl.Reference)
			}
		}()
	}
	wg.Wait()
}

// runPattern turns a test name into a -run pattern matching only it.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, "$/^")
}
