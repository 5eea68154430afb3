package api

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// fakeRemote is matcher shards in one process: a gallery that follows the
// published changes, and a switch that makes searches partial.
type fakeRemote struct {
	mu        sync.Mutex
	g         *matcher.Gallery
	down      bool
	published int
}

type partialErr struct{}

func (partialErr) Error() string        { return "partition 1 did not answer" }
func (partialErr) PartialResult() []int { return []int{1} }

func (r *fakeRemote) Search(ctx context.Context, probe *matcher.Template, k int, so matcher.SearchOptions) ([]matcher.Candidate, error) {
	r.mu.Lock()
	down := r.down
	r.mu.Unlock()
	if down {
		return nil, partialErr{}
	}
	return r.g.SearchWith(ctx, probe, k, so)
}

func (r *fakeRemote) Publish(ctx context.Context, id int64, fingers []int, ts []*matcher.Template) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published++
	r.g.Remove(subject(id))
	for i, t := range ts {
		if err := r.g.Add(subject(id), fingers[i], t); err != nil {
			return err
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
		c.Gallery.UseRemote(remote, c.Logger)
		c.IdentifyEnabled = true
	})
	ctx := context.Background()
	e.mustStaff("zhang", "station_staff", "", "QS-S01")
	k := e.newKiosk("kiosk-01")
	sk := &kiosk{Client: k.WithStaff(e.login("zhang").StaffToken), e: e, scanner: k.scanner}
	a := e.newPerson("甲", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC))
	e.enrol(sk, a)
	if remote.published != 1 || remote.g.Len() == 0 {
		t.Fatalf("%d changes published, remote gallery %d templates", remote.published, remote.g.Len())
	}
	b := e.newPerson("乙", time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC))
	b.fingers[apiv1.RightMiddle] = a.fingers[apiv1.RightMiddle]
	remote.mu.Lock()
	remote.down = true
	remote.mu.Unlock()
	_, err := sk.Enrol(ctx, e.enrolRequest(sk, b))
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
