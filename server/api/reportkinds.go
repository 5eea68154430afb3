package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/reports"
	"github.com/qingshan-gov/veinkiosk/server/store"
)

// The kinds of residents' issue reports in force (docs/reports.md): the
// embedded document unless the store holds a version an administrator
// saved that is not older; every replica re-reads the latest saved version
// at most every Config.CatalogueRefresh, as for the service catalogue.
type kindsSource struct {
	st       store.Store
	embedded *reports.Kinds
	refresh  time.Duration
	now      func() time.Time

	mu      sync.Mutex
	cur     *reports.Kinds
	checked time.Time
}

func newKindsSource(st store.Store, refresh time.Duration, now func() time.Time) *kindsSource {
	emb := reports.Default()
	return &kindsSource{st: st, embedded: emb, refresh: refresh, now: now, cur: emb}
}

// current returns the kinds in force, reading the store when the last look
// is older than the refresh interval; when the store does not answer it
// keeps serving what it has.
func (ks *kindsSource) current() *reports.Kinds {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := ks.now()
	if !ks.checked.IsZero() && now.Sub(ks.checked) < ks.refresh && !now.Before(ks.checked) {
		return ks.cur
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	latest, err := ks.st.LatestReportKinds(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ks.cur = ks.embedded
	case err != nil:
		return ks.cur
	case latest.Version < ks.embedded.Version:
		ks.cur = ks.embedded
	case latest.Version != ks.cur.Version:
		k, err := reports.Parse(latest.Document)
		if err != nil {
			return ks.cur // validated when saved: a document that no longer loads is not served
		}
		ks.cur = k
	}
	ks.checked = now
	return ks.cur
}

func (ks *kindsSource) saved(k *reports.Kinds) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.cur, ks.checked = k, ks.now()
}

// reportKinds returns the kinds in force.
func (s *Server) reportKinds() *reports.Kinds { return s.kinds.current() }

// unitName is a unit's name among the report units (its code otherwise).
func (s *Server) unitName(code string) string {
	if u, ok := s.reportKinds().Unit(code); ok {
		return u.Name
	}
	return code
}

// handleGetReportKinds returns the document in force.
func (s *Server) handleGetReportKinds(c *fiber.Ctx) error {
	return c.JSON(s.reportKinds())
}

// handlePutReportKinds saves a new version of the kinds (administrators):
// validated, the version in force plus one, every unit of the one before
// kept (reports and officers name them), audited, in force at once.
func (s *Server) handlePutReportKinds(c *fiber.Ctx) error {
	k, err := s.saveReportKinds(c, c.Body(), c.Query("note"))
	if err != nil {
		return err
	}
	return c.JSON(kindList(k))
}

func (s *Server) saveReportKinds(c *fiber.Ctx, body []byte, note string) (*reports.Kinds, error) {
	k, err := reports.Parse(body)
	if err != nil {
		return nil, errf(apiv1.CodeReportKindsInvalid, "%v", err)
	}
	cur := s.reportKinds()
	if k.Version != cur.Version+1 {
		return nil, errf(apiv1.CodeReportKindsVersion, "the version in force is %d: save version %d", cur.Version, cur.Version+1)
	}
	for _, u := range cur.Units {
		if _, ok := k.Unit(u.Code); !ok {
			return nil, errf(apiv1.CodeReportKindsInvalid, "units: %q is missing (reports and officers name it; a unit is renamed, never removed)", u.Code)
		}
	}
	doc, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	err = s.st.SaveReportKinds(c.UserContext(), staffActor(c), store.CatalogueVersion{Version: k.Version, Document: doc, Note: note, CreatedAt: s.now()})
	if errors.Is(err, store.ErrConflict) {
		return nil, errf(apiv1.CodeReportKindsVersion, "version %d was saved meanwhile: reload and edit again", k.Version)
	} else if err != nil {
		return nil, storeErr(err, "report kinds")
	}
	s.kinds.saved(k)
	return k, nil
}

func kindList(k *reports.Kinds) apiv1.ReportKindList {
	out := apiv1.ReportKindList{Version: k.Version, Units: []apiv1.ReportUnit{}, Kinds: []apiv1.ReportKind{}}
	for _, u := range k.Units {
		out.Units = append(out.Units, apiv1.ReportUnit(u))
	}
	for _, kd := range k.Kinds {
		out.Kinds = append(out.Kinds, apiv1.ReportKind(kd))
	}
	return out
}

// ---- the office's editor (administrator) ----

func (s *Server) officeReportKindsData(c *fiber.Ctx) (map[string]any, error) {
	k := s.reportKinds()
	doc, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	type row struct {
		Code, Name, Unit string
		Days             int
	}
	var rows []row
	for _, kd := range k.Kinds {
		rows = append(rows, row{Code: kd.Code, Name: kd.Name, Unit: s.unitName(kd.Unit), Days: kd.DeadlineDays})
	}
	sess := sessionOf(c)
	return map[string]any{"Title": "诉求类别", "Session": officeSess(sess), "Nav": officeNav(sess),
		"InForce": k.Version, "Next": k.Version + 1, "Kinds": rows, "Units": len(k.Units), "Document": string(doc)}, nil
}

// officeReportKinds shows the kinds in force and the editor.
func (s *Server) officeReportKinds(c *fiber.Ctx) error {
	data, err := s.officeReportKindsData(c)
	if err != nil {
		return err
	}
	if v := c.Query("saved"); v != "" {
		data["Saved"] = v
	}
	return s.render(c, http.StatusOK, "report_kinds.html", data)
}

// officeSaveReportKinds saves the edited document as a new version.
func (s *Server) officeSaveReportKinds(c *fiber.Ctx) error {
	doc := []byte(c.FormValue("document"))
	k, err := s.saveReportKinds(c, doc, strings.TrimSpace(c.FormValue("note")))
	if err == nil {
		return c.Redirect("/office/report-kinds?saved="+strconv.Itoa(k.Version), http.StatusSeeOther)
	}
	var ae *apiError
	if !errors.As(err, &ae) || ae.status() >= 500 {
		return err
	}
	data, derr := s.officeReportKindsData(c)
	if derr != nil {
		return derr
	}
	data["Document"], data["Note"] = string(doc), c.FormValue("note")
	switch ae.detail.Code {
	case apiv1.CodeReportKindsVersion:
		data["Error"] = fmt.Sprintf("版本号应为 %d（现行版本 %d 加一）；若他人刚保存过，请刷新后重新修改。", data["Next"], data["InForce"])
	default:
		data["Error"] = "有问题，未保存：" + ae.detail.Message
	}
	return s.render(c, http.StatusUnprocessableEntity, "report_kinds.html", data)
}
