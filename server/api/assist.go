package api

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/qingshan-gov/veinkiosk/server/apiv1"
	"github.com/qingshan-gov/veinkiosk/server/audit"
)

// assistWindow is how many of the newest audit records the staff's list
// looks through for calls (older calls have long been answered or
// forgotten; the audit chain keeps them all).
const assistWindow = 5000

// assistGap is the least time between two calls of one kiosk: a resident
// pressing the button again and again appends one record, not hundreds.
const assistGap = 30 * time.Second

// assistThrottle remembers each kiosk's last call (in memory: a replica
// that restarts forgets, which only allows one extra call).
type assistThrottle struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (t *assistThrottle) allow(kiosk string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string]time.Time{}
	}
	if last, ok := t.last[kiosk]; ok && now.Sub(last) < assistGap {
		return false
	}
	t.last[kiosk] = now
	return true
}

// handleKioskAssist records a call for help from the kiosk to its
// station's staff (audit assist.request; target station:ID).
func (s *Server) handleKioskAssist(c *fiber.Ctx) error {
	var req apiv1.AssistRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.Reason != apiv1.AssistResident && req.Reason != apiv1.AssistPrinter {
		return badRequest("reason must be resident or printer")
	}
	k := kioskOf(c)
	now := s.now()
	if !s.assist.allow(k.ID, now) {
		// Already called: the staff have it; say so without a new record.
		return c.Status(fiber.StatusAccepted).JSON(apiv1.AssistCall{Kiosk: k.ID, Station: k.StationID, Reason: req.Reason, At: now})
	}
	rec, err := s.st.AppendAudit(c.UserContext(), audit.Event{Time: now, Actor: audit.Kiosk(k.ID), Action: "assist.request",
		Target: "station:" + k.StationID, Details: map[string]string{"reason": req.Reason}})
	if err != nil {
		return storeErr(err, "audit")
	}
	s.log.Info("call for staff", "kiosk", k.ID, "station", k.StationID, "reason", req.Reason, "seq", rec.Seq)
	return c.Status(fiber.StatusCreated).JSON(apiv1.AssistCall{Seq: rec.Seq, Kiosk: k.ID, Station: k.StationID, Reason: req.Reason, At: now})
}

// assistCalls reads the station's calls and acknowledgements among the
// newest audit records.
func (s *Server) assistCalls(c *fiber.Ctx, station string) ([]apiv1.AssistCall, error) {
	ctx := c.UserContext()
	head, _, err := s.st.AuditHead(ctx)
	if err != nil {
		return nil, storeErr(err, "audit")
	}
	after := max(0, head-assistWindow)
	var calls []apiv1.AssistCall
	idx := map[int64]int{}
	for {
		recs, err := s.st.ListAudit(ctx, after, 1000)
		if err != nil {
			return nil, storeErr(err, "audit")
		}
		for _, r := range recs {
			switch {
			case r.Action == "assist.request" && r.Target == "station:"+station:
				idx[r.Seq] = len(calls)
				calls = append(calls, apiv1.AssistCall{Seq: r.Seq, Kiosk: r.Actor.ID, Station: station, Reason: r.Details["reason"], At: r.Time})
			case r.Action == "assist.ack" && strings.HasPrefix(r.Target, "assist:"):
				if seq, err := strconv.ParseInt(strings.TrimPrefix(r.Target, "assist:"), 10, 64); err == nil {
					if i, ok := idx[seq]; ok {
						calls[i].Acked = true
					}
				}
			}
		}
		if len(recs) < 1000 {
			break
		}
		after = recs[len(recs)-1].Seq
	}
	return calls, nil
}

// handleListAssist lists the calls of the staff member's station.
func (s *Server) handleListAssist(c *fiber.Ctx) error {
	sess := sessionOf(c)
	if sess.station == "" {
		return errf(apiv1.CodeForbidden, "only staff of a station see its calls")
	}
	calls, err := s.assistCalls(c, sess.station)
	if err != nil {
		return err
	}
	if calls == nil {
		calls = []apiv1.AssistCall{}
	}
	return c.JSON(apiv1.AssistList{Calls: calls})
}

// handleAckAssist acknowledges a call of the staff member's own station
// (audit assist.ack).
func (s *Server) handleAckAssist(c *fiber.Ctx) error {
	seq, err := strconv.ParseInt(c.Params("seq"), 10, 64)
	if err != nil || seq <= 0 {
		return badRequest("bad call number")
	}
	call, err := s.ackAssist(c, seq)
	if err != nil {
		return err
	}
	return c.JSON(call)
}

// ackAssist is the one rule for answering a call, for the API and the
// office page alike: staff of the call's station only (another station's
// call is not found), audited once (assist.ack); answering again is a no-op.
func (s *Server) ackAssist(c *fiber.Ctx, seq int64) (apiv1.AssistCall, error) {
	sess := sessionOf(c)
	if sess.station == "" {
		return apiv1.AssistCall{}, errf(apiv1.CodeForbidden, "only staff of a station answer its calls")
	}
	calls, err := s.assistCalls(c, sess.station)
	if err != nil {
		return apiv1.AssistCall{}, err
	}
	for _, call := range calls {
		if call.Seq != seq {
			continue
		}
		if !call.Acked {
			if err := s.audit(c.UserContext(), staffActor(c), "assist.ack", "assist:"+strconv.FormatInt(seq, 10), nil); err != nil {
				return apiv1.AssistCall{}, storeErr(err, "audit")
			}
			call.Acked = true
		}
		return call, nil
	}
	return apiv1.AssistCall{}, errf(apiv1.CodeNotFound, "no such call at your station")
}
