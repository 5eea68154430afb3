package api

import (
	"context"
	"testing"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// TestListPageQuery: the filing and report lists read their page (after,
// limit) with one rule, pageQuery: a bad one is refused with bad_request,
// a good one listed.
func TestListPageQuery(t *testing.T) {
	e := newEnv(t)
	e.mustStaff("boss", store.RoleSupervisor, "", "")
	boss := e.login("boss")
	ctx := context.Background()
	for _, path := range []string{apiv1.PathFilings, apiv1.PathReports} {
		for _, q := range []string{"?after=-1", "?after=x", "?after=1.5", "?limit=0", "?limit=1001", "?limit=ten", "?after=2&limit=-3"} {
			wantCode(t, boss.Do(ctx, "GET", path+q, nil, nil), apiv1.CodeBadRequest)
		}
		for _, q := range []string{"", "?after=0", "?limit=1", "?after=5&limit=1000"} {
			if err := boss.Do(ctx, "GET", path+q, nil, nil); err != nil {
				t.Errorf("GET %s%s: %v", path, q, err)
			}
		}
	}
}
