package api

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// countingStore counts the store calls of the capture step: scanner
// look-ups and the ways a capture's nonce and counter are spent.
type countingStore struct {
	store.Store
	mu                            sync.Mutex
	getScanner, consumeNonce, adv int
	outcomes                      int
	nonces                        map[string]int // nonce -> times spent (consume or outcome)
}

func (c *countingStore) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.getScanner, c.consumeNonce, c.adv, c.outcomes = 0, 0, 0, 0
	c.nonces = map[string]int{}
}

func (c *countingStore) GetScanner(ctx context.Context, serial string) (store.Scanner, error) {
	c.mu.Lock()
	c.getScanner++
	c.mu.Unlock()
	return c.Store.GetScanner(ctx, serial)
}

func (c *countingStore) ConsumeNonce(ctx context.Context, value, kioskID, purpose string, now time.Time) error {
	c.mu.Lock()
	c.consumeNonce++
	c.nonces[value]++
	c.mu.Unlock()
	return c.Store.ConsumeNonce(ctx, value, kioskID, purpose, now)
}

func (c *countingStore) AdvanceScannerCounter(ctx context.Context, serial string, counter uint64) error {
	c.mu.Lock()
	c.adv++
	c.mu.Unlock()
	return c.Store.AdvanceScannerCounter(ctx, serial, counter)
}

func (c *countingStore) RecordVerificationOutcome(ctx context.Context, o store.VerificationOutcome) (store.VerificationResultState, error) {
	c.mu.Lock()
	c.outcomes++
	c.nonces[o.NonceValue]++
	c.mu.Unlock()
	return c.Store.RecordVerificationOutcome(ctx, o)
}

// TestVerificationSpendsCaptureOnce runs a verification to every end of the
// flow and checks the capture's nonce is spent exactly once, on one path
// (the outcome transaction, or spendCaptures when the flow stops before
// it), the scanner is looked up once, and the counter is raised once
// unless the scanner failed its check. Replaying the capture then fails.
func TestVerificationSpendsCaptureOnce(t *testing.T) {
	cs := &countingStore{}
	e := newEnv(t, func(c *Config) { cs.Store = c.Store; c.Store = cs })
	cs.reset()
	ctx := context.Background()
	e.mustStaff("zhang", store.RoleStationStaff, "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	staffKiosk := e.atKiosk(k, "zhang")
	enrolled := e.newPerson("王秀英", time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC))
	e.enrol(staffKiosk, enrolled)
	stranger := e.newPerson("李四", time.Date(1960, 1, 2, 0, 0, 0, 0, time.UTC)) // on record, not enrolled
	suspended := e.newPerson("赵六", time.Date(1970, 5, 6, 0, 0, 0, 0, time.UTC))
	e.enrol(staffKiosk, suspended)
	if err := e.st.SetResidentStatus(ctx, audit.System("test"), suspended.card.IDNumber, store.ResidentSuspended, "test"); err != nil {
		t.Fatal(err)
	}
	unknown := *enrolled
	unknown.card.IDNumber = "110101199003070011" // valid check digit, no record
	unknown.card.Birth = identity.DateOf(time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC))
	unknown.card.Gender = identity.GenderMale // sequence 001 is odd

	other := e.newKiosk("kiosk-02") // its scanner, assigned to kiosk-02 on first sight
	must[*apiv1.NonceResponse](t)(other.Nonce(ctx))
	if err := e.srv.checkScanner(ctx, &store.Kiosk{ID: "kiosk-02"}, &other.scanner.cert); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		p         *person
		scanner   *fakeScanner // nil: the kiosk's own
		code      string       // "" for a match
		outcome   int          // RecordVerificationOutcome calls
		counter   int          // AdvanceScannerCounter calls
		consumed  int          // ConsumeNonce calls
		scanCalls int          // GetScanner calls
	}{
		{"match", enrolled, nil, "", 1, 0, 0, 1},
		{"no match", enrolled, nil, apiv1.CodeNoMatch, 1, 0, 0, 1},
		{"resident unknown", &unknown, nil, apiv1.CodeResidentUnknown, 0, 1, 1, 1},
		{"suspended", suspended, nil, apiv1.CodeResidentSuspended, 0, 1, 1, 1},
		{"not enrolled", stranger, nil, apiv1.CodeNotEnrolled, 0, 1, 1, 1},
		{"scanner of another kiosk", enrolled, other.scanner, apiv1.CodeScannerElsewhere, 0, 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			finger := tt.p.fingers[apiv1.RightIndex]
			if tt.code == apiv1.CodeNoMatch {
				finger = stranger.fingers[apiv1.RightIndex]
			}
			req := e.verifyRequest(k, tt.p, finger)
			if tt.scanner != nil {
				n := must[*apiv1.NonceResponse](t)(k.Nonce(ctx))
				req.Capture = tt.scanner.sign(t, n.Nonce, apiv1.RightIndex, e.template(finger, apiv1.RightIndex, 80))
			}
			cs.reset()
			_, err := k.Verify(ctx, req)
			if tt.code == "" && err != nil {
				t.Fatalf("verify: %v", err)
			} else if tt.code != "" {
				wantCode(t, err, tt.code)
			}
			cs.mu.Lock()
			got := []int{cs.outcomes, cs.adv, cs.consumeNonce, cs.getScanner}
			spent := 0
			for _, n := range cs.nonces {
				spent += n
			}
			nonces := len(cs.nonces)
			cs.mu.Unlock()
			if want := []int{tt.outcome, tt.counter, tt.consumed, tt.scanCalls}; !equalInts(got, want) {
				t.Errorf("outcome, counter, nonce, scanner look-up calls = %v, want %v", got, want)
			}
			if nonces != 1 || spent != 1 {
				t.Errorf("%d nonces spent %d times, want one nonce spent once", nonces, spent)
			}
			// The capture cannot be presented again.
			_, err = k.Verify(ctx, req)
			wantCode(t, err, apiv1.CodeNonceUnknown)
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestStepCodes checks the one mapping from step errors to API codes: every
// sentinel has a code of the apiv1 table, a step error answers with it and
// its message, and a wait becomes retry_after_s.
func TestStepCodes(t *testing.T) {
	e := newEnv(t)
	for sentinel, m := range stepCodes {
		if _, ok := apiv1.HTTPStatus(m.code); !ok {
			t.Errorf("%v maps to %q, which has no status", sentinel, m.code)
		}
		err := e.srv.apiErr(stepErr(stepCapture, sentinel, "message %d", 7))
		var ae *apiError
		if !errors.As(err, &ae) || ae.detail.Code != m.code || ae.detail.Message != "message 7" {
			t.Errorf("%v: got %v, want code %s", sentinel, err, m.code)
		}
	}
	err := e.srv.apiErr(&stepError{step: stepLockout, err: errLocked, msg: "locked", retryAfter: 1500 * time.Millisecond})
	var ae *apiError
	if !errors.As(err, &ae) || ae.detail.RetryAfterSeconds != 2 || ae.status() != 423 {
		t.Errorf("locked: %v (retry %d)", err, ae.detail.RetryAfterSeconds)
	}
	// An unmapped sentinel is a server fault, not a guess.
	err = e.srv.apiErr(stepErr(stepCapture, errors.New("new"), "x"))
	if errors.As(err, &ae) {
		t.Errorf("unmapped sentinel became %v", err)
	}
	// Other errors pass through.
	if plain := errors.New("plain"); e.srv.apiErr(plain) != plain {
		t.Error("a non-step error was changed")
	}
}
