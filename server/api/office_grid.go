package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// The grid worker's pages: sized for a phone (one column, large touch
// targets), Chinese first. The same lists and changes as the grid API.

type gridListView struct {
	Title   string
	Entries []apiv1.GridListEntry
}

func (s *Server) officeGrid(c *fiber.Ctx) error {
	wl, err := s.cellWorklist(c)
	if err != nil {
		return err
	}
	sess := sessionOf(c)
	return s.render(c, http.StatusOK, "grid.html", map[string]any{
		"Title": "我的网格", "Session": officeSess(sess), "Nav": officeNav(sess), "W": wl,
		"Lists": []gridListView{{"本周应走访", wl.Week}, {"本月应走访", wl.Month}, {"本半年应走访", wl.HalfYear}},
		"Rules": s.visitRules.Rules,
	})
}

type gridCategory struct {
	Code, Name string
	Checked    bool
}

func (s *Server) officeGridResidentPage(c *fiber.Ctx, status int, id string, message string, ok bool) error {
	cell, err := s.gridCell(c)
	if err != nil {
		return err
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	r, err := s.cellResident(c.UserContext(), cell, id)
	if err != nil {
		return err
	}
	view, err := s.gridResident(c, cell, r)
	if err != nil {
		return err
	}
	var cats []gridCategory
	for _, n := range cat.Categories() {
		checked := false
		for _, have := range r.Categories {
			checked = checked || have == n.Code
		}
		cats = append(cats, gridCategory{Code: n.Code, Name: n.Name, Checked: checked})
	}
	var visits []string
	for _, v := range view.Visits {
		t, _ := time.Parse(time.RFC3339, v.At)
		line := t.In(identity.ChinaTime).Format(officeTime)
		if v.Note != "" {
			line += " · " + v.Note
		}
		visits = append(visits, line)
	}
	sess := sessionOf(c)
	return s.render(c, status, "grid_resident.html", map[string]any{
		"Title": "居民信息", "Session": officeSess(sess), "Nav": officeNav(sess), "R": view, "Categories": cats,
		"Visits": visits, "Message": message, "OK": ok,
	})
}

func (s *Server) officeGridResident(c *fiber.Ctx) error {
	return s.officeGridResidentPage(c, http.StatusOK, c.Params("id"), "", false)
}

// officeGridUpdate saves the change form: household, phone and the
// categories' checkboxes (the whole set).
func (s *Server) officeGridUpdate(c *fiber.Ctx) error {
	cell, err := s.gridCell(c)
	if err != nil {
		return err
	}
	cat, err := s.catalogue(c)
	if err != nil {
		return err
	}
	r, err := s.cellResident(c.UserContext(), cell, c.Params("id"))
	if err != nil {
		return err
	}
	household, phone := c.FormValue("household"), c.FormValue("phone")
	cats := []string{}
	args := c.Request().PostArgs()
	for _, v := range args.PeekMulti("category") {
		cats = append(cats, string(v))
	}
	u := apiv1.GridResidentUpdate{Household: &household, Phone: &phone, Categories: &cats}
	if _, err := s.updateResident(c, cat, cell, r, u); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.detail.Code == apiv1.CodeBadRequest {
			return s.officeGridResidentPage(c, http.StatusBadRequest, c.Params("id"), ae.detail.Message, false)
		}
		return err
	}
	return s.officeGridResidentPage(c, http.StatusOK, c.Params("id"), "已保存。", true)
}

func (s *Server) officeGridVisit(c *fiber.Ctx) error {
	cell, err := s.gridCell(c)
	if err != nil {
		return err
	}
	r, err := s.cellResident(c.UserContext(), cell, c.Params("id"))
	if err != nil {
		return err
	}
	if _, err := s.recordVisit(c, cell, r, c.FormValue("note")); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.detail.Code == apiv1.CodeBadRequest {
			return s.officeGridResidentPage(c, http.StatusBadRequest, c.Params("id"), ae.detail.Message, false)
		}
		return err
	}
	return s.officeGridResidentPage(c, http.StatusOK, c.Params("id"), "走访已记录。", true)
}
