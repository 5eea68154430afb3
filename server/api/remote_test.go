package api

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// fakeRemote is matcher shards in one process: a gallery that follows the
// store's change log as shard.LogFeed does (read before each search), and
// a switch that makes searches partial.
type fakeRemote struct {
	mu      sync.Mutex
	g       *matcher.Gallery
	st      store.Store
	cur     *store.ChangeCursor
	down    bool
	applied int
}

type partialErr struct{}

func (partialErr) Error() string        { return "partition 1 did not answer" }
func (partialErr) PartialResult() []int { return []int{1} }

func (r *fakeRemote) Search(ctx context.Context, probe *matcher.Template, k int, so matcher.SearchOptions) ([]matcher.Candidate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, partialErr{}
	}
	if err := r.cur.Poll(ctx, r.st, func(c store.Change) error { return r.apply(ctx, c) }); err != nil {
		return nil, err
	}
	return r.g.SearchWith(ctx, probe, k, so)
}

func (r *fakeRemote) apply(ctx context.Context, c store.Change) error {
	if c.Kind != store.ChangeResident {
		return nil
	}
	id, err := strconv.ParseInt(c.Subject, 10, 64)
	if err != nil {
		return err
	}
	r.applied++
	r.g.Remove(c.Subject)
	res, err := r.st.GetResidentByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	es, err := r.st.ResidentEnrolments(ctx, res.IDNumber)
	if err != nil {
		return err
	}
	for _, e := range es {
		for _, smp := range e.Samples {
			t, err := matcher.ParseTemplate(smp.Template)
			if err != nil {
				return err
			}
			if err := r.g.Add(c.Subject, e.Finger, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestRemoteSearchIncomplete: with matcher shards, a deduplication that a
// shard did not answer fails with search_incomplete and enrols nothing,
// never passing a duplicate; once the shards answer, the duplicate is
// found. Card-less identification fails the same way.
func TestRemoteSearchIncomplete(t *testing.T) {
	remote := &fakeRemote{g: matcher.NewGallery(matcher.GalleryOptions{})}
	e := newEnv(t, func(c *Config) {
		c.Gallery = NewGallery()
		c.Gallery.UseRemote(remote)
		c.IdentifyEnabled = true
	})
	remote.st, remote.cur = e.st, store.NewChangeCursor(0, time.Minute)
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	sk := e.atKiosk(k, "zhang")
	a := e.newPerson("甲", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, a)
	// The shards learn of the enrolment from the change log alone.
	es, err := e.st.ResidentEnrolments(ctx, a.card.IDNumber)
	if err != nil || len(es) == 0 {
		t.Fatalf("enrolments %v, %v", es, err)
	}
	probe, err := matcher.ParseTemplate(es[0].Samples[0].Template)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := remote.Search(ctx, probe, 1, matcher.SearchOptions{}); err != nil || remote.applied == 0 || len(got) != 1 || got[0].Subject != subject(es[0].ResidentID) {
		t.Fatalf("%d changes read from the log, search %v (%v)", remote.applied, got, err)
	}
	b := e.newPerson("乙", time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC))
	b.fingers[apiv1.RightMiddle] = a.fingers[apiv1.RightMiddle]
	remote.mu.Lock()
	remote.down = true
	remote.mu.Unlock()
	_, err = sk.Enrol(ctx, e.enrolRequest(sk, b))
	wantCode(t, err, apiv1.CodeSearchIncomplete)
	// Card-less identification of an enrolled resident says
	// search_incomplete, not candidate_not_found.
	_, ierr := sk.Identify(ctx, &apiv1.IdentifyRequest{Capture: sk.capture(apiv1.RightIndex, e.template(a.fingers[apiv1.RightIndex], apiv1.RightIndex, 80))})
	wantCode(t, ierr, apiv1.CodeSearchIncomplete)
	if ae := (*apiv1.Error)(nil); !errors.As(err, &ae) || ae.RetryAfterSeconds < 1 {
		t.Errorf("no retry_after: %v", err)
	}
	if es, err := e.st.ResidentEnrolments(ctx, b.card.IDNumber); err == nil && len(es) > 0 {
		t.Fatalf("enrolled without a complete search: %d enrolments", len(es))
	}
	remote.mu.Lock()
	remote.down = false
	remote.mu.Unlock()
	_, err = sk.Enrol(ctx, e.enrolRequest(sk, b))
	wantCode(t, err, apiv1.CodeDuplicateSuspected)
}
