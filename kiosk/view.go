package kiosk

import (
	"encoding/json"
	"math"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Shanghai on a machine without a zone database

	"github.com/qingshan-gov/veinkiosk/identity"
	"github.com/qingshan-gov/veinkiosk/kiosk/session"
	"github.com/qingshan-gov/veinkiosk/server/apiv1"
)

// View is what the touchscreen shows, sent to the browser as JSON over
// server-sent events. It holds the minimum the screen needs: a masked ID
// number, never a template, token or password.
type View struct {
	Seq      uint64 `json:"seq"`
	Phase    string `json:"phase"`
	Mode     string `json:"mode"`
	Lang     string `json:"lang"`
	Problem  string `json:"problem,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Tries    int    `json:"tries"`
	MaxTries int    `json:"maxTries"`
	ServerUp bool   `json:"serverUp"`
	Station  string `json:"station"`
	// CardPresent: a card is on the reader (at idle: one left behind).
	CardPresent bool `json:"cardPresent"`
	// Countdown: seconds before the session is cleared for lack of a touch
	// (set only in the last IdleWarning). Ended: why the last session
	// ended (session.End...), shown at idle for a while.
	Countdown int    `json:"countdown,omitempty"`
	Ended     string `json:"ended,omitempty"`
	// RetryIn: seconds before a pending step is retried by itself.
	RetryIn int `json:"retryIn,omitempty"`
	// AttemptsLeft: finger checks left (the fewer of this session's and the
	// server's), -1 when nothing was tried yet. LockedUntil: the lock's end
	// ("15:04" in China time), LockMinutes how long that is from now.
	AttemptsLeft int    `json:"attemptsLeft"`
	LockedUntil  string `json:"lockedUntil,omitempty"`
	LockMinutes  int    `json:"lockMinutes,omitempty"`
	// Fingers: the resident's enrolled fingers (apiv1 names), to name and
	// show the finger to place.
	Fingers []string `json:"fingers,omitempty"`
	// Missing: labels of the required fields left empty or refused.
	Missing []string `json:"missing,omitempty"`
	// Clock: the time now in China, for the header ("2006-01-02 15:04").
	Clock string `json:"clock"`
	// Elderly: elderly mode (适老化) is on: the time-outs are longer.
	Elderly bool `json:"elderly,omitempty"`

	Card     *PersonView `json:"card,omitempty"`
	Resident *PersonView `json:"resident,omitempty"`
	// NewReplies: the menu's notice 您有新的答复 N 件 (replies since the
	// resident was last shown my filings; 0: none or already shown).
	NewReplies int           `json:"newReplies,omitempty"`
	Services   []ServiceView `json:"services,omitempty"`
	Form       *FormView     `json:"form,omitempty"`
	Receipt    *FilingView   `json:"receipt,omitempty"`
	// Certificate: the proof of life just recorded (phase certified).
	Certificate *CertificateView `json:"certificate,omitempty"`
	Print       *PrintView       `json:"print,omitempty"`  // the receipt's printing, when the kiosk has a printer
	Assist      *AssistView      `json:"assist,omitempty"` // the call for staff (呼叫工作人员) of this session
	// CanCall: the server can call staff (the 呼叫工作人员 button shows).
	CanCall bool         `json:"canCall,omitempty"`
	Filings []FilingView `json:"filings,omitempty"`
	// RatingChoices: the rating panel of my filings (a server that records
	// ratings).
	RatingChoices *RatingChoicesView `json:"ratingChoices,omitempty"`
	// CanAgent: the server lets a resident file for a family member (the
	// 为家人代办 button shows on the menu). Principal: the family member
	// the verified resident files for (代办), with the relation's label.
	CanAgent  bool           `json:"canAgent,omitempty"`
	Principal *PrincipalView `json:"principal,omitempty"`
	Staff     *StaffView     `json:"staff,omitempty"`
	Enrol     *EnrolView     `json:"enrol,omitempty"`
	Outcome   *OutcomeView   `json:"outcome,omitempty"`
	Devices   []Health       `json:"devices"`
}

// PersonView names the person at the kiosk.
type PersonView struct {
	Name     string `json:"name"`
	IDMasked string `json:"idMasked"`
	Expired  bool   `json:"expired,omitempty"`
	Until    string `json:"until,omitempty"`
}

// PrincipalView is the family member a resident files for (代办).
type PrincipalView struct {
	Name     string `json:"name"`
	IDMasked string `json:"idMasked"`
	Relation string `json:"relation"` // 同户家庭成员 / 监护人
}

// ServiceView is a catalogue entry.
type ServiceView struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	NameEN  string `json:"nameEn,omitempty"`
	DueDays int    `json:"dueDays"`
	// Certification: no form; choosing it records the proof of life.
	Certification bool `json:"certification,omitempty"`
}

// CertificateView is a recorded certification (养老金领取资格认证).
type CertificateView struct {
	Service ServiceView `json:"service"`
	Year    int         `json:"year"`
	At      string      `json:"at"` // 2006-01-02 15:04, China time
	Already bool        `json:"already"`
}

// FormView is the form to check.
type FormView struct {
	Service ServiceView `json:"service"`
	Fields  []FieldView `json:"fields"`
}

// FieldView is a form field as shown: the English of its choices and of a
// read-only value, and whether it is missing.
type FieldView struct {
	session.Field
	ChoicesEN []string `json:"choicesEn,omitempty"`
	ValueEN   string   `json:"valueEn,omitempty"`
	Missing   bool     `json:"missing,omitempty"`
}

// FilingView is a receipt or an earlier filing.
type FilingView struct {
	Reference string      `json:"reference"`
	Service   ServiceView `json:"service"`
	FiledAt   string      `json:"filedAt"`
	Due       string      `json:"due"`
	Status    string      `json:"status,omitempty"`
	// StatusZH and StatusEN name the status in the words the back office
	// uses (apiv1.FilingStatusLabel, the one status table).
	StatusZH string `json:"statusZh,omitempty"`
	StatusEN string `json:"statusEn,omitempty"`
	Reply    string `json:"reply,omitempty"`
	// Item: "filing" or "report"; Decided: the decision's or the answer's
	// day ("" while open).
	Item    string `json:"item,omitempty"`
	Decided string `json:"decided,omitempty"`
	// Rating: the resident's rating 1..5 (0: none); Rateable: it may be
	// rated now.
	Rating   int  `json:"rating,omitempty"`
	Rateable bool `json:"rateable,omitempty"`
	// New: answered since the resident was last shown my filings (新).
	New bool `json:"new,omitempty"`
}

// RatingChoicesView is what the rating panel offers (apiv1's lists, the
// one place of the words) and the reference being sent.
type RatingChoicesView struct {
	Scores  []apiv1.RatingChoice `json:"scores"`
	Reasons []apiv1.RatingChoice `json:"reasons"`
	Sending string               `json:"sending,omitempty"`
}

// StaffView is the logged-in staff member.
type StaffView struct {
	Name       string `json:"name"`
	Supervisor bool   `json:"supervisor"`
}

// EnrolView is the progress of an enrolment.
type EnrolView struct {
	Fingers     []EnrolFingerView `json:"fingers"`
	Current     int               `json:"current"`
	LastQuality int               `json:"lastQuality"`
	MinQuality  int               `json:"minQuality"`
	Complete    bool              `json:"complete"`
}

// EnrolFingerView is one finger's progress.
type EnrolFingerView struct {
	Finger    string `json:"finger"`
	Accepted  int    `json:"accepted"`
	Needed    int    `json:"needed"`
	Rejected  int    `json:"rejected"`
	Qualities []int  `json:"qualities"`
}

// OutcomeView is the server's answer to an enrolment.
type OutcomeView struct {
	Pending         bool   `json:"pending"` // already enrolled: the replacement awaits a supervisor
	NeedsSupervisor bool   `json:"needsSupervisor"`
	CaseID          string `json:"caseId,omitempty"`
}

func svcView(s session.Service) ServiceView {
	return ServiceView{Code: s.Code, Name: s.NameZH, NameEN: s.NameEN, DueDays: s.DueDays, Certification: s.Certification}
}

// China is the time zone of every date and time the kiosk shows, whatever
// the machine's own zone (the server's due dates are China dates too). The
// zone database is embedded (time/tzdata), with a fixed +08:00 fallback.
var China = func() *time.Location {
	if l, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return l
	}
	return time.FixedZone("CST", 8*3600)
}()

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(China).Format("2006-01-02")
}

func en(v string) string {
	if e, ok := choiceEN[v]; ok {
		return e
	}
	return v
}

func (d *Daemon) view() View {
	st := d.m.State()
	cfg := d.m.Config()
	v := View{
		Phase: string(st.Phase), Mode: string(st.Mode), Lang: d.lang,
		Problem: st.Problem, Hint: st.Hint, Tries: st.Tries, MaxTries: cfg.MaxTries,
		ServerUp: d.up.Load(), Station: d.cfg.StationID, Devices: d.devices.Health(),
	}
	v.CardPresent = d.devices.CardPresent()
	if d.assist != "" {
		v.Assist = &AssistView{State: d.assist}
	}
	_, v.CanCall = d.server.(StaffCaller)
	_, v.CanAgent = d.server.(AgentBinder)
	if p := st.Principal; p != nil {
		v.Principal = &PrincipalView{Name: p.Name, IDMasked: p.MaskedID, Relation: st.Relation}
	}
	now := d.now()
	v.Clock = now.In(China).Format("2006-01-02 15:04")
	if st.Warning && !st.Deadline.IsZero() {
		v.Countdown = max(int(math.Ceil(st.Deadline.Sub(now).Seconds())), 0)
	}
	if st.Phase == session.Idle {
		v.Ended = st.Ended // the idle screen says why; other screens do not change with it
	}
	v.Fingers = st.Fingers
	if st.Phase == session.Unavailable && !st.RetryAt.IsZero() {
		v.RetryIn = max(int(math.Ceil(st.RetryAt.Sub(now).Seconds())), 0)
	}
	v.AttemptsLeft = -1
	if st.Tries > 0 {
		v.AttemptsLeft = cfg.MaxTries - st.Tries
	}
	// The server's allowance counts when it is the smaller one (before any
	// try only when an earlier session used some of it).
	if st.AttemptsLeft >= 0 && (v.AttemptsLeft < 0 && st.AttemptsLeft < cfg.MaxTries || v.AttemptsLeft >= 0 && st.AttemptsLeft < v.AttemptsLeft) {
		v.AttemptsLeft = st.AttemptsLeft
	}
	if !st.LockedUntil.IsZero() {
		v.LockedUntil = st.LockedUntil.In(China).Format("15:04")
		v.LockMinutes = max(int(math.Ceil(st.LockedUntil.Sub(now).Minutes())), 1)
	}
	d.shownHealth = healthKey(v.Devices)
	if c := st.Card; c != nil {
		v.Card = &PersonView{Name: c.DisplayName(), IDMasked: c.Masked(), Expired: c.Expired(d.now()), Until: c.Until.String()}
	}
	if r := st.Resident; r != nil {
		v.Resident = &PersonView{Name: r.Name, IDMasked: r.MaskedID}
		v.NewReplies = r.NewReplies
	}
	for _, s := range st.Services {
		v.Services = append(v.Services, svcView(s))
	}
	if f := st.Form; f != nil {
		v.Form = &FormView{Service: svcView(f.Service)}
		missing := map[string]bool{}
		for _, k := range st.Missing {
			missing[k] = true
		}
		for _, fd := range f.Fields {
			if !fd.Editable && looksLikeIDNumber(fd.Value) {
				fd.Value = identity.MaskIDNumber(fd.Value) // the screen faces the room
			}
			fv := FieldView{Field: fd, Missing: missing[fd.Key]}
			for i, c := range fd.Choices {
				if len(fd.ChoicesEN) == len(fd.Choices) {
					fv.ChoicesEN = append(fv.ChoicesEN, fd.ChoicesEN[i]) // the catalogue's
				} else {
					fv.ChoicesEN = append(fv.ChoicesEN, en(c))
				}
			}
			if !fd.Editable {
				fv.ValueEN = en(fd.Value)
			}
			if fv.Missing {
				label := fd.LabelZH
				if d.lang == "en" && fd.LabelEN != "" {
					label = fd.LabelEN
				}
				v.Missing = append(v.Missing, label)
			}
			v.Form.Fields = append(v.Form.Fields, fv)
		}
	}
	if c := st.Certificate; c != nil {
		v.Certificate = &CertificateView{Service: svcView(c.Service), Year: c.Year, At: c.At.In(China).Format("2006-01-02 15:04"), Already: c.Already}
	}
	if r := st.Receipt; r != nil {
		v.Receipt = &FilingView{Reference: r.Reference, Service: svcView(r.Service), FiledAt: day(r.FiledAt), Due: day(r.Due)}
		if d.print.ref == r.Reference {
			v.Print = &PrintView{State: d.print.state}
		}
	}
	_, canRate := d.server.(Rater)
	for _, f := range st.Filings {
		fv := FilingView{Item: f.Item, Reference: f.Reference, Service: svcView(f.Service),
			FiledAt: day(f.FiledAt), Due: day(f.Due), Decided: day(f.Decided), Status: f.Status, Reply: f.Reply, Rating: f.Rating,
			Rateable: canRate && f.Rateable, New: f.New}
		if f.Item == "report" {
			fv.StatusZH, fv.StatusEN = f.StatusZH, f.StatusEN
		} else {
			label := apiv1.FilingStatusLabel(f.Status)
			fv.StatusZH, fv.StatusEN = label.ZH, label.EN
		}
		v.Filings = append(v.Filings, fv)
	}
	if st.Phase == session.Filings && canRate {
		v.RatingChoices = &RatingChoicesView{Scores: apiv1.RatingScores, Reasons: apiv1.RatingReasons, Sending: st.Rating}
	}
	if s := st.Staff; s != nil {
		v.Staff = &StaffView{Name: s.Name, Supervisor: s.Supervisor}
	}
	v.Elderly = st.Elderly
	if st.Phase == session.StaffLogin || st.Phase == session.EnrolSupervisor {
		v.AttemptsLeft = st.AttemptsLeft // the PINs left before the lock (-1: not said)
	}
	if st.Enrol != nil {
		ev := &EnrolView{Current: st.EnrolIdx, LastQuality: st.LastQuality, MinQuality: d.m.Gates().Enrol, Complete: true}
		for _, f := range st.Enrol {
			fv := EnrolFingerView{Finger: f.Finger, Accepted: len(f.Accepted), Needed: cfg.EnrolCaptures, Rejected: f.Rejected, Qualities: []int{}}
			for _, s := range f.Accepted {
				fv.Qualities = append(fv.Qualities, s.Quality)
			}
			if fv.Accepted < fv.Needed {
				ev.Complete = false
			}
			ev.Fingers = append(ev.Fingers, fv)
		}
		v.Enrol = ev
	}
	if o := st.Outcome; o != nil {
		v.Outcome = &OutcomeView{Pending: o.PendingApproval, NeedsSupervisor: o.NeedsSupervisor, CaseID: o.CaseID}
	}
	return v
}

// hub fans the latest view out to the browsers; a slow browser only ever
// misses intermediate views, never the latest.
type hub struct {
	mu   sync.Mutex
	last []byte
	subs map[chan []byte]struct{}
}

func newHub() *hub { return &hub{subs: map[chan []byte]struct{}{}} }

func (h *hub) publish(v View) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = b
	for ch := range h.subs {
		select {
		case <-ch: // drop the stale one
		default:
		}
		ch <- b
	}
}

func (h *hub) subscribe() (chan []byte, func()) {
	ch := make(chan []byte, 1)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	if h.last != nil {
		ch <- h.last
	}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *hub) latest() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// looksLikeIDNumber reports an 18-character citizen ID number.
func looksLikeIDNumber(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	c := s[17]
	return c >= '0' && c <= '9' || c == 'X' || c == 'x'
}
