package deck

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/qingshan-gov/veinkiosk/identity"
)

// Generate returns a deck of n residents generated from seed. The same seed
// gives the same deck, and a deck of n residents is a prefix of a larger
// deck with the same seed. Residents come in households (shared address,
// grid cell and household id); about 3% of cards are expired and 1% not yet
// valid on DefaultAsOf, and about 2% each are foreign permanent resident
// cards and Hong Kong/Macao/Taiwan residence permits. With n >= 16 the deck
// holds at least one of each of these.
func Generate(seed int64, n int) *Deck {
	g := &gen{seed: seed, asOf: DefaultAsOf, used: map[string]bool{}}
	d := &Deck{Seed: seed, AsOf: DefaultAsOf.Format(time.DateOnly)}
	for h := 0; len(d.Residents) < n; h++ {
		for _, r := range g.household(h) {
			if len(d.Residents) < n {
				r.deckSeed = seed
				d.Residents = append(d.Residents, r)
			}
		}
	}
	d.reindex()
	return d
}

type gen struct {
	seed int64
	asOf time.Time
	used map[string]bool
}

type validity int

const (
	validNow validity = iota
	validExpired
	validNotYet
)

func pick(rng *rand.Rand, ws []weighted) string {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	x := rng.IntN(total)
	for _, w := range ws {
		if x < w.w {
			return w.v
		}
		x -= w.w
	}
	return ws[len(ws)-1].v
}

func oneOf[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func chance(rng *rand.Rand, p float64) bool { return rng.Float64() < p }

// headAge draws the age of a household head: Qingshan is an old industrial
// district with many retirees.
func headAge(rng *rand.Rand) int {
	switch x := rng.IntN(100); {
	case x < 25:
		return 25 + rng.IntN(15)
	case x < 60:
		return 40 + rng.IntN(20)
	case x < 88:
		return 60 + rng.IntN(15)
	default:
		return 75 + rng.IntN(16)
	}
}

func (g *gen) birthFor(rng *rand.Rand, age int) time.Time {
	// A birthday such that the person is age on asOf.
	latest := g.asOf.AddDate(-age, 0, 0)
	return latest.AddDate(0, 0, -rng.IntN(365))
}

func cohort(birth time.Time) int {
	switch y := birth.Year(); {
	case y < 1960:
		return 0
	case y < 1980:
		return 1
	case y < 2000:
		return 2
	}
	return 3
}

func (g *gen) surname(rng *rand.Rand, nation string) string {
	if ws, ok := nationSurnames[nation]; ok && chance(rng, 0.6) {
		return pick(rng, ws)
	}
	return pick(rng, hanSurnames)
}

func (g *gen) given(rng *rand.Rand, gender string, birth time.Time) string {
	if gender == "1" {
		return oneOf(rng, givenMale[cohort(birth)])
	}
	return oneOf(rng, givenFemale[cohort(birth)])
}

// name returns a full name; Mongols mostly carry a Mongolian name without
// surname.
func (g *gen) name(rng *rand.Rand, surname, nation, gender string, birth time.Time) string {
	if nation == "02" && chance(rng, 0.6) {
		if gender == "1" {
			return oneOf(rng, mongolMale)
		}
		return oneOf(rng, mongolFemale)
	}
	return surname + g.given(rng, gender, birth)
}

// periodYears is the validity of a resident card issued at age (居民身份证法
// art. 5): 5 years under 16, 10 years to 25, 20 years to 45, long-term (0)
// from 46.
func periodYears(age int) int {
	switch {
	case age < 16:
		return 5
	case age <= 25:
		return 10
	case age <= 45:
		return 20
	}
	return 0
}

// validity chooses a validity period for a card of a person born on birth.
// fixed > 0 forces the period in years (permits, foreign cards).
func (g *gen) validity(rng *rand.Rand, birth time.Time, v validity, fixed func(age int) int) (from, until time.Time, long bool) {
	period := func(t time.Time) int {
		if fixed != nil {
			return fixed(identity.DateOf(birth).AgeOn(identity.DateOf(t)))
		}
		return periodYears(identity.DateOf(birth).AgeOn(identity.DateOf(t)))
	}
	switch v {
	case validNotYet:
		from = g.asOf.AddDate(0, 0, 10+rng.IntN(190))
		if p := period(from); p > 0 {
			return from, from.AddDate(p, 0, 0), false
		}
		return from, time.Time{}, true
	case validExpired:
		for try := 0; try < 200; try++ {
			from = g.asOf.AddDate(0, 0, -1-rng.IntN(25*365))
			if from.Before(birth) {
				continue
			}
			p := period(from)
			until = from.AddDate(p, 0, 0)
			if p > 0 && until.Before(g.asOf) && g.asOf.Sub(until) < 3*365*24*time.Hour {
				return from, until, false
			}
		}
	}
	for try := 0; try < 200; try++ {
		from = g.asOf.AddDate(0, 0, -rng.IntN(20*365))
		if from.Before(birth) {
			continue
		}
		p := period(from)
		if p == 0 {
			return from, time.Time{}, true
		}
		if until = from.AddDate(p, 0, 0); until.After(g.asOf) {
			return from, until, false
		}
	}
	from = g.asOf.AddDate(0, 0, -30)
	if p := period(from); p > 0 {
		return from, from.AddDate(p, 0, 0), false
	}
	return from, time.Time{}, true
}

func (g *gen) idNumber(rng *rand.Rand, region string, birth time.Time, gender string) string {
	parity := 0
	if gender == "1" {
		parity = 1
	}
	seq := rng.IntN(500)*2 + parity
	for i := 0; i < 500; i++ {
		n, err := identity.MakeIDNumber(region, identity.DateOf(birth), seq)
		if err != nil {
			panic(err) // region and sequence are ours: cannot happen
		}
		if id := string(n); !g.used[id] {
			g.used[id] = true
			return id
		}
		seq = (seq + 2) % 1000
	}
	panic("deck: more than 500 people born on one day in one district")
}

type home struct {
	d         district
	address   string
	grid      string
	household string
}

func (g *gen) home(rng *rand.Rand, h int) home {
	ws := make([]weighted, len(districts))
	for i, d := range districts {
		ws[i] = weighted{d.code, d.weight}
	}
	code := pick(rng, ws)
	if h == 0 {
		code = "150204"
	}
	var d district
	for _, x := range districts {
		if x.code == code {
			d = x
		}
	}
	pi := rng.IntN(len(d.places))
	place := d.places[pi]
	var unit string
	switch {
	case strings.HasSuffix(place, "村"):
		unit = fmt.Sprintf("%d组%d号", 1+rng.IntN(8), 1+rng.IntN(120))
	case strings.HasSuffix(place, "号"):
		unit = fmt.Sprintf("%d单元%d号", 1+rng.IntN(6), (1+rng.IntN(6))*100+1+rng.IntN(4))
	default:
		unit = fmt.Sprintf("%d栋%d单元%d号", 1+rng.IntN(40), 1+rng.IntN(6), (1+rng.IntN(18))*100+1+rng.IntN(4))
	}
	addr := cityPrefix + d.name + place + unit
	if n := len([]rune(addr)); n > 35 {
		addr = string([]rune(addr)[:35])
	}
	grid := fmt.Sprintf("%s-%03d", d.grid, pi*3+1+rng.IntN(3))
	return home{d: d, address: addr, grid: grid, household: fmt.Sprintf("H%s-%05d", d.code, h)}
}

type role int

const (
	roleHead role = iota
	roleSpouse
	roleChild
	roleParent // the head's father or mother
)

// relationships are the population database's words for the roles.
var relationships = map[role]string{roleHead: "户主", roleSpouse: "配偶", roleChild: "子女", roleParent: "父母"}

type member struct {
	role   role
	age    int
	gender string
}

func other(gender string) string {
	if gender == "1" {
		return "2"
	}
	return "1"
}

// household generates household number h.
func (g *gen) household(h int) []*Resident {
	rng := rand.New(rand.NewPCG(mix("household", g.seed, h), uint64(h)))
	hm := g.home(rng, h)
	// Fixed specials so that small decks exercise every case.
	special := map[int]string{1: "hmt", 2: "expired", 3: "foreign", 4: "notyet"}[h]
	if special == "" && h > 4 {
		switch x := rng.IntN(1000); {
		case x < 20:
			special = "foreign"
		case x < 45:
			special = "hmt"
		}
	}
	switch special {
	case "foreign":
		return []*Resident{g.foreigner(rng, hm)}
	case "hmt":
		return []*Resident{g.permitHolder(rng, hm)}
	}

	nation := pick(rng, nationWeights)
	head := member{age: headAge(rng), gender: oneOf(rng, []string{"1", "2"})}
	if special == "expired" {
		// Old people's cards are long-term: only a younger card expires.
		head.age = 27 + rng.IntN(8)
	}
	members := []member{head}
	if chance(rng, 0.75) {
		age := head.age - 3 + rng.IntN(7)
		members = append(members, member{role: roleSpouse, age: max(age, 20), gender: other(head.gender)})
	}
	if head.age < 58 {
		for k := rng.IntN(3); k > 0; k-- {
			age := head.age - 22 - rng.IntN(12)
			if age >= 1 {
				members = append(members, member{role: roleChild, age: age, gender: oneOf(rng, []string{"1", "2"})})
			}
		}
	}
	if head.age >= 28 && head.age <= 55 && chance(rng, 0.2) {
		members = append(members, member{role: roleParent, age: min(head.age+23+rng.IntN(12), 95), gender: oneOf(rng, []string{"1", "2"})})
	}
	dibao := chance(rng, 0.06)
	var out []*Resident
	// Children take the father's surname (the head's or the spouse's); the
	// head's father carries the head's surname when the head is a man.
	var headSurname, fatherSurname string
	names := map[string]bool{}
	for i, m := range members {
		mnation := nation
		if m.role == roleSpouse && chance(rng, 0.15) {
			mnation = "01"
		}
		surname := g.surname(rng, mnation)
		switch m.role {
		case roleHead:
			headSurname = surname
		case roleChild:
			if fatherSurname != "" {
				surname = fatherSurname
			}
		case roleParent:
			if head.gender == "1" && m.gender == "1" {
				surname = headSurname
			}
		}
		if (m.role == roleHead || m.role == roleSpouse) && m.gender == "1" {
			fatherSurname = surname
		}
		v := validNow
		switch {
		case i == 0 && special == "expired":
			v = validExpired
		case i == 0 && special == "notyet":
			v = validNotYet
		case h == 0 && i == 0:
			// The first resident of every deck has a valid card (demos).
		case chance(rng, 0.03):
			v = validExpired
		case chance(rng, 0.01):
			v = validNotYet
		}
		birth := g.birthFor(rng, m.age)
		name := g.name(rng, surname, mnation, m.gender, birth)
		for try := 0; try < 20 && names[name]; try++ {
			name = g.name(rng, surname, mnation, m.gender, birth) // no two siblings share a name
		}
		names[name] = true
		r := &Resident{
			Name:         name,
			CardType:     "resident",
			Gender:       m.gender,
			Nation:       mnation,
			BirthDate:    identity.DateOf(birth),
			Address:      hm.address,
			District:     hm.d.code,
			Authority:    hm.d.authority,
			GridCell:     hm.grid,
			Household:    hm.household,
			Relationship: relationships[m.role],
		}
		r.IDNumber = g.idNumber(rng, hm.d.code, birth, m.gender)
		g.setValidity(rng, r, birth, v, nil)
		if dibao {
			r.Categories = append(r.Categories, CategoryDibao)
		}
		if m.age >= 60 {
			r.Categories = append(r.Categories, CategoryElderly)
			if len(members) == 1 && !dibao && chance(rng, 0.1) {
				r.Categories = append(r.Categories, CategoryTekun)
			}
		}
		if chance(rng, 0.02+float64(max(m.age-50, 0))*0.002) {
			r.Categories = append(r.Categories, CategoryDisabled)
		}
		out = append(out, r)
	}
	return out
}

func (g *gen) setValidity(rng *rand.Rand, r *Resident, birth time.Time, v validity, fixed func(int) int) {
	from, until, long := g.validity(rng, birth, v, fixed)
	r.ValidFrom = identity.DateOf(from)
	if long {
		r.ValidUntil = identity.LongTerm
	} else {
		r.ValidUntil = identity.DateOf(until)
	}
	// Cards issued since 2013 carry fingerprints, when the holder gave them.
	r.Fingerprint = from.Year() >= 2013 && chance(rng, 0.8)
}

// permitHolder is a Hong Kong, Macao or Taiwan resident living in Baotou
// with a residence permit (港澳台居民居住证, valid five years).
func (g *gen) permitHolder(rng *rand.Rand, hm home) *Resident {
	region, pass := "810000", fmt.Sprintf("H%08d", rng.IntN(1e8))
	switch x := rng.IntN(10); {
	case x < 2:
		region, pass = "820000", fmt.Sprintf("M%08d", rng.IntN(1e8))
	case x < 5:
		region, pass = "830000", fmt.Sprintf("%08d", rng.IntN(1e8))
	}
	gender := oneOf(rng, []string{"1", "2"})
	birth := g.birthFor(rng, 22+rng.IntN(50))
	r := &Resident{
		Name:         g.name(rng, g.surname(rng, "01"), "01", gender, birth),
		CardType:     "hmt_permit",
		Gender:       gender,
		BirthDate:    identity.DateOf(birth),
		Address:      hm.address,
		District:     hm.d.code,
		Authority:    hm.d.authority,
		PassNumber:   pass,
		IssueCount:   1 + rng.IntN(3),
		GridCell:     hm.grid,
		Household:    hm.household,
		Relationship: relationships[roleHead],
	}
	r.IDNumber = g.idNumber(rng, region, birth, gender)
	g.setValidity(rng, r, birth, validNow, func(int) int { return 5 })
	g.elderly(r)
	return r
}

// foreigner holds a foreign permanent resident card of the 2017 layout. Its
// 15-character number is synthetic: nationality, "150" (Inner Mongolia),
// birth date YYMMDD, two sequence digits and a digit-sum check digit.
func (g *gen) foreigner(rng *rand.Rand, hm home) *Resident {
	f := oneOf(rng, foreigners)
	birth := g.birthFor(rng, 25+rng.IntN(45))
	var num string
	for {
		num = fmt.Sprintf("%s150%s%02d", f.nationality, birth.Format("060102"), rng.IntN(100))
		sum := 0
		for _, c := range num[3:] {
			sum += int(c - '0')
		}
		num += fmt.Sprint(sum % 10)
		if !g.used[num] {
			g.used[num] = true
			break
		}
	}
	r := &Resident{
		IDNumber:     num,
		Name:         f.chinese,
		EnglishName:  f.english,
		CardType:     "foreign_permanent",
		Gender:       f.gender,
		BirthDate:    identity.DateOf(birth),
		Address:      hm.address,
		District:     hm.d.code,
		Authority:    "1500",
		Nationality:  f.nationality,
		CardVersion:  "01",
		GridCell:     hm.grid,
		Household:    hm.household,
		Relationship: relationships[roleHead],
	}
	g.setValidity(rng, r, birth, validNow, func(age int) int {
		if age < 18 {
			return 5
		}
		return 10
	})
	g.elderly(r)
	return r
}

func (g *gen) elderly(r *Resident) {
	if r.Age(g.asOf) >= 60 {
		r.Categories = append(r.Categories, CategoryElderly)
	}
}
