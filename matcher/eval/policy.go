package eval

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/qingshan-gov/veinkiosk/matcher"
	"github.com/qingshan-gov/veinkiosk/matcher/calib"
)

// Policy is the kiosk's enrolment and verification policy, as
// kiosk/session and the server run it (cmd/veinctl fills it from their
// defaults, so the two cannot drift apart).
type Policy struct {
	// EnrolFingers fingers are enrolled with EnrolCaptures accepted
	// captures each; a finger that gives fewer in MaxEnrolCaptures
	// captures is replaced by the subject's next finger (the kiosk's
	// alternate fingers).
	EnrolFingers, EnrolCaptures, MaxEnrolCaptures int
	// EnrolMinQuality is the kiosk's enrolment quality gate,
	// VerifyMinQuality its verification gate (below it a capture is "not
	// flat": a failed attempt), ServerMinQuality the server's gate.
	EnrolMinQuality, VerifyMinQuality, ServerMinQuality int
	// MaxTries is the number of attempts in one verification transaction.
	MaxTries int
	// VerifyThreshold is the per-comparison threshold in force (from
	// calib.ResolveThresholds); a probe is compared with every template of
	// the claimed subject (matcher.Gallery.Verify, as the server does).
	VerifyThreshold float64
	// ConsistencyThreshold > 0 applies the server's enrolment consistency
	// check (matcher.CheckConsistency; centrald uses the verification
	// threshold in force): a finger whose accepted captures disagree loses
	// the disagreeing ones and the kiosk captures again, from the finger's
	// next samples, within MaxEnrolCaptures; 0 turns the check off.
	ConsistencyThreshold float64
	// Bootstrap replicates over subjects for the intervals (default 1000).
	Bootstrap int
	Seed      uint64
}

// Rate is an error rate with its Clopper-Pearson interval (independent
// trials assumed) and a percentile bootstrap interval over subjects (the
// trials of one subject are not independent), both 95 %.
type Rate struct {
	Errors      int        `json:"errors"`
	Trials      int        `json:"trials"`
	Rate        float64    `json:"rate"`
	CI95        [2]float64 `json:"clopper_pearson_95"`
	BootstrapCI [2]float64 `json:"bootstrap_subjects_95"`
}

func newRate(errs, trials int) Rate {
	r := Rate{Errors: errs, Trials: trials}
	if trials > 0 {
		r.Rate = float64(errs) / float64(trials)
	}
	r.CI95[0], r.CI95[1] = calib.ClopperPearson(errs, trials, 0.95)
	return r
}

// PolicyReport is the transaction-level evaluation (ISO/IEC 19795-1).
type PolicyReport struct {
	Policy   Policy `json:"policy"`
	Subjects int    `json:"subjects"`
	// FingersEnrolled is the most fingers enrolled per subject: below
	// Policy.EnrolFingers when the data hold fewer fingers per subject.
	FingersEnrolled int `json:"fingers_enrolled_per_subject"`
	// FTE: subjects whose enrolment failed, of those attempted.
	FTE Rate `json:"fte"`
	// FTA: verification attempts whose capture failed to extract or fell
	// below the verification quality gate, of all genuine attempts.
	FTA Rate `json:"fta"`
	// FNMR: genuine transactions not accepted within MaxTries attempts
	// (attempts lost to FTA included: they are rejections).
	FNMR Rate `json:"transaction_fnmr"`
	// AttemptFNMR: single genuine attempts that were compared and
	// rejected, of the compared ones.
	AttemptFNMR Rate `json:"attempt_fnmr"`
	// FMR: zero-effort impostor transactions (another subject's finger
	// presented for up to MaxTries attempts against the claimed subject's
	// enrolment) accepted.
	FMR Rate `json:"transaction_fmr"`
	// SameSession and CrossSession split FNMR by whether the
	// transaction's captures come from the enrolment's session (manifests
	// with a session column).
	SameSession  *Rate `json:"transaction_fnmr_same_session,omitempty"`
	CrossSession *Rate `json:"transaction_fnmr_cross_session,omitempty"`
	// LeftoverSamples could not fill a transaction of MaxTries samples and
	// were not used (a partial transaction would bias FNMR).
	LeftoverSamples int `json:"leftover_samples"`
	// Consistency is the enrolment consistency check's work (nil: off).
	Consistency *ConsistencyReport `json:"consistency,omitempty"`
}

// ConsistencyReport is what the enrolment consistency check did in
// EvaluatePolicy (or ScoreEnrolment).
type ConsistencyReport struct {
	Threshold float64 `json:"threshold"`
	// Refusals: checks that refused a finger's captures (a finger may be
	// refused more than once).
	Refusals int `json:"refusals"`
	// FingersRefused: fingers refused at least once.
	FingersRefused int `json:"fingers_refused"`
	// Retaken: captures dropped and taken again from the finger's next
	// samples.
	Retaken int `json:"captures_retaken"`
	// FingersFailed: fingers refused until their samples (or the kiosk's
	// captures per finger) ran out.
	FingersFailed int `json:"fingers_failed"`
}

// enrolConsistent takes captures for one finger as the kiosk and the
// server do: next() gives the finger's next accepted capture (false when
// there is none left); k are needed; with a check (c.Threshold > 0) the
// captures must be consistent, and those the server names are dropped and
// captured again. It returns the enrolled captures, or nil when the finger
// could not be enrolled, and counts into c.
func enrolConsistent(templates []*matcher.Template, k int, next func() (int, bool), c *ConsistencyReport) ([]int, error) {
	var acc []int
	refused := false
	for {
		for len(acc) < k {
			i, ok := next()
			if !ok {
				if refused {
					c.FingersFailed++
				}
				return nil, nil
			}
			acc = append(acc, i)
		}
		if c.Threshold <= 0 || k < 2 {
			return acc, nil
		}
		ts := make([]*matcher.Template, len(acc))
		for j, i := range acc {
			ts[j] = templates[i]
		}
		cons, err := matcher.CheckConsistency(ts, c.Threshold)
		if err != nil {
			return nil, err
		}
		if cons.OK() {
			return acc, nil
		}
		c.Refusals++
		c.Retaken += len(cons.Disagree)
		if !refused {
			c.FingersRefused++
			refused = true
		}
		kept := acc[:0:0]
		for j, i := range acc {
			if !slices.Contains(cons.Disagree, j) {
				kept = append(kept, i)
			}
		}
		acc = kept
	}
}

type subjectFingers struct {
	id      string
	fingers [][]int // sample indices per finger, manifest order
}

// EvaluatePolicy plays the kiosk's enrolment and verification
// transactions over the extracted report.
func EvaluatePolicy(r *Report, p Policy) (*PolicyReport, error) {
	if p.EnrolFingers <= 0 || p.EnrolCaptures <= 0 || p.MaxEnrolCaptures < p.EnrolCaptures || p.MaxTries <= 0 || !(p.VerifyThreshold > 0) || !(p.ConsistencyThreshold >= 0) {
		return nil, fmt.Errorf("eval: policy %+v", p)
	}
	if p.Bootstrap <= 0 {
		p.Bootstrap = 1000
	}
	// Subjects, their fingers and samples in manifest order.
	var subs []*subjectFingers
	bySub := map[string]*subjectFingers{}
	fingerIdx := map[string]int{}
	for i, e := range r.Entries {
		s := bySub[e.Subject]
		if s == nil {
			s = &subjectFingers{id: e.Subject}
			bySub[e.Subject] = s
			subs = append(subs, s)
		}
		fi, ok := fingerIdx[e.Key()]
		if !ok {
			fi = len(s.fingers)
			fingerIdx[e.Key()] = fi
			s.fingers = append(s.fingers, nil)
		}
		s.fingers[fi] = append(s.fingers[fi], i)
	}
	quality := func(i int) int {
		if r.Templates[i] == nil {
			return -1
		}
		return int(r.Templates[i].Quality)
	}
	withSessions := true
	for _, e := range r.Entries {
		withSessions = withSessions && e.Session != ""
	}

	rep := &PolicyReport{Policy: p, Subjects: len(subs)}
	cons := &ConsistencyReport{Threshold: p.ConsistencyThreshold}
	if p.ConsistencyThreshold > 0 {
		rep.Consistency = cons
	}
	g := matcher.NewGallery(matcher.GalleryOptions{}) // the server's gallery
	type enrolled struct {
		fingers   []int   // finger indices enrolled
		rest      [][]int // per enrolled finger, samples after enrolment
		sessions  map[string]bool
		transacts []bool // genuine transactions: rejected?
		tsession  []int  // 0 mixed, 1 same, 2 cross
	}
	enr := make([]*enrolled, len(subs))
	fte, attempted := 0, 0
	for si, s := range subs {
		want := min(p.EnrolFingers, len(s.fingers))
		attempted++
		e := &enrolled{sessions: map[string]bool{}}
		for fi, samples := range s.fingers {
			if len(e.fingers) == want {
				break
			}
			used := 0
			next := func() (int, bool) { // the finger's next capture that passes the gates
				for used < len(samples) && used < p.MaxEnrolCaptures {
					i := samples[used]
					used++
					if q := quality(i); q >= p.EnrolMinQuality && q >= p.ServerMinQuality {
						return i, true
					}
				}
				return 0, false
			}
			acc, err := enrolConsistent(r.Templates, p.EnrolCaptures, next, cons)
			if err != nil {
				return nil, fmt.Errorf("eval: consistency of %s: %w", r.Entries[samples[0]].Key(), err)
			}
			if acc == nil {
				continue
			}
			for _, i := range acc {
				if err := g.Add(s.id, fi+1, r.Templates[i]); err != nil {
					return nil, fmt.Errorf("eval: enrolling %s: %w", r.Entries[i].Path, err)
				}
				e.sessions[r.Entries[i].Session] = true
			}
			e.fingers = append(e.fingers, fi)
			e.rest = append(e.rest, samples[used:])
		}
		if len(e.fingers) < want || want == 0 {
			fte++
			if len(e.fingers) > 0 {
				g.Remove(s.id)
			}
			continue
		}
		rep.FingersEnrolled = max(rep.FingersEnrolled, len(e.fingers))
		enr[si] = e
	}
	rep.FTE = newRate(fte, attempted)

	// play runs one transaction of the samples against subject a: true
	// when accepted. Genuine attempts are counted per subject: attempts,
	// failures to acquire, compared and rejected.
	ns := len(subs)
	attempts, ftas, compared, rejects := make([]int, ns), make([]int, ns), make([]int, ns), make([]int, ns)
	play := func(a int, samples []int, genuine bool) bool {
		for _, i := range samples {
			if genuine {
				attempts[a]++
			}
			q := quality(i)
			if q < p.VerifyMinQuality || q < p.ServerMinQuality {
				if genuine {
					ftas[a]++
				}
				continue
			}
			score, ok := g.Verify(subs[a].id, r.Templates[i])
			if !ok {
				continue
			}
			if genuine {
				compared[a]++
			}
			if score >= p.VerifyThreshold {
				return true
			}
			if genuine {
				rejects[a]++
			}
		}
		return false
	}
	// Genuine transactions: the samples left after enrolment, in groups of
	// MaxTries.
	for a, e := range enr {
		if e == nil {
			continue
		}
		for _, rest := range e.rest {
			n := len(rest) / p.MaxTries * p.MaxTries
			rep.LeftoverSamples += len(rest) - n
			for k := 0; k < n; k += p.MaxTries {
				tx := rest[k : k+p.MaxTries]
				e.transacts = append(e.transacts, !play(a, tx, true))
				kind := 0
				if withSessions {
					same, cross := true, true
					for _, i := range tx {
						in := e.sessions[r.Entries[i].Session]
						same, cross = same && in, cross && !in
					}
					if same {
						kind = 1
					} else if cross {
						kind = 2
					}
				}
				e.tsession = append(e.tsession, kind)
			}
		}
	}
	// Impostor transactions: the first MaxTries samples of every finger of
	// every other subject, against each enrolled subject.
	impN := make([]int32, ns*ns) // [claimed*ns+attacker]
	impFA := make([]int32, ns*ns)
	for a, e := range enr {
		if e == nil {
			continue
		}
		for b, s := range subs {
			if b == a {
				continue
			}
			for _, samples := range s.fingers {
				tx := samples[:min(len(samples), p.MaxTries)]
				impN[a*ns+b]++
				if play(a, tx, false) {
					impFA[a*ns+b]++
				}
			}
		}
	}

	// Rates.
	var gN, gR, sameN, sameR, crossN, crossR int
	perSubN := make([]int, ns)
	perSubR := make([]int, ns)
	for si, e := range enr {
		if e == nil {
			continue
		}
		for k, rej := range e.transacts {
			perSubN[si]++
			gN++
			if rej {
				perSubR[si]++
				gR++
			}
			switch e.tsession[k] {
			case 1:
				sameN++
				if rej {
					sameR++
				}
			case 2:
				crossN++
				if rej {
					crossR++
				}
			}
		}
	}
	var iN, iFA int
	for k := range impN {
		iN += int(impN[k])
		iFA += int(impFA[k])
	}
	sum := func(v []int) int {
		t := 0
		for _, x := range v {
			t += x
		}
		return t
	}
	rep.FTA = newRate(sum(ftas), sum(attempts))
	rep.FNMR = newRate(gR, gN)
	rep.AttemptFNMR = newRate(sum(rejects), sum(compared))
	rep.FMR = newRate(iFA, iN)
	if withSessions {
		s, c := newRate(sameR, sameN), newRate(crossR, crossN)
		rep.SameSession, rep.CrossSession = &s, &c
	}

	// Bootstrap over subjects: draw subjects with replacement; a subject
	// drawn w times weighs w in FNMR and FTE, and a (claimed, attacker)
	// pair of distinct subjects w_a*w_b in FMR.
	rng := rand.New(rand.NewPCG(p.Seed, 0x19795))
	w := make([]float64, ns)
	var bFNMR, bFMR, bFTE, bFTA []float64
	fteOf := make([]float64, ns)
	for si := range subs {
		if enr[si] == nil {
			fteOf[si] = 1
		}
	}
	for range p.Bootstrap {
		clear(w)
		for range ns {
			w[rng.IntN(ns)]++
		}
		var n, e, fn, fe, an, af float64
		var subjN, subjF float64
		for s := range ns {
			if w[s] == 0 {
				continue
			}
			subjN += w[s]
			subjF += w[s] * fteOf[s]
			n += w[s] * float64(perSubN[s])
			e += w[s] * float64(perSubR[s])
			an += w[s] * float64(attempts[s])
			af += w[s] * float64(ftas[s])
			for b := range ns {
				if b == s || w[b] == 0 {
					continue
				}
				fn += w[s] * w[b] * float64(impN[s*ns+b])
				fe += w[s] * w[b] * float64(impFA[s*ns+b])
			}
		}
		if n > 0 {
			bFNMR = append(bFNMR, e/n)
		}
		if fn > 0 {
			bFMR = append(bFMR, fe/fn)
		}
		if an > 0 {
			bFTA = append(bFTA, af/an)
		}
		bFTE = append(bFTE, subjF/subjN)
	}
	rep.FNMR.BootstrapCI = percentileCI(bFNMR)
	rep.FMR.BootstrapCI = percentileCI(bFMR)
	rep.FTE.BootstrapCI = percentileCI(bFTE)
	rep.FTA.BootstrapCI = percentileCI(bFTA)
	return rep, nil
}

// percentileCI is the 2.5th and 97.5th percentiles.
func percentileCI(v []float64) [2]float64 {
	if len(v) == 0 {
		return [2]float64{0, 1}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	at := func(q float64) float64 { return s[min(len(s)-1, max(0, int(q*float64(len(s)))))] }
	return [2]float64{at(0.025), at(0.975)}
}
