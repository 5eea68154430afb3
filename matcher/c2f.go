package matcher

// Coarse-to-fine search. Level 2 (4 x 4 pooled) is searched exhaustively;
// the best c2Keep2 displacements are refined at level 1 (the 3 x 3
// neighbourhood of twice the displacement), the best c2Keep1 of those at
// level 0, where a hill climb over the 8-neighbourhood then runs to a
// local maximum of Nm. The score is Miura's formula at the displacement
// reached. Its agreement with the exhaustive search is measured in
// c2f_test.go and reported in docs/template-format.md.

const (
	c2Keep2    = 3  // displacements kept from level 2
	c2Keep1    = 2  // displacements kept from level 1
	c2MaxClimb = 24 // hill-climb steps at level 0
)

// shift is a displacement and its overlap count.
type shift struct{ nm, dy, dx int }

// beats orders shifts by nm, then by (dy, dx) ascending, the order in which
// the reference search keeps the first maximum.
func (a shift) beats(b shift) bool {
	if a.nm != b.nm {
		return a.nm > b.nm
	}
	if a.dy != b.dy {
		return a.dy < b.dy
	}
	return a.dx < b.dx
}

// insertTop inserts s into the sorted list top[:n] of capacity len(top),
// ignoring a displacement already present, and returns the new length.
func insertTop(top []shift, n int, s shift) int {
	for i := 0; i < n; i++ {
		if top[i].dy == s.dy && top[i].dx == s.dx {
			return n
		}
	}
	if n == len(top) {
		if !s.beats(top[n-1]) {
			return n
		}
		n--
	}
	i := n
	for i > 0 && s.beats(top[i-1]) {
		top[i] = top[i-1]
		i--
	}
	top[i] = s
	return n + 1
}

// coarse returns the best c2Keep2 displacements at level 2.
func (p *Probe) coarse(c *cand, top *[c2Keep2]shift) int {
	l, pl, r := &p.g.lv[2], &p.lv[2], c.crop[2]
	n := 0
	nw := len(r)
	cs := l.copyRows * l.stride
	for dx := -l.dx; dx <= l.dx; dx++ {
		cp := pl.copies[(dx+l.dx)*cs : (dx+l.dx+1)*cs]
		for dy := -l.dy; dy <= l.dy; dy++ {
			a := (l.r0 + dy + l.pad) * l.stride
			nm := andCount(r, cp[a:a+nw])
			if n < c2Keep2 || nm >= top[n-1].nm {
				n = insertTop(top[:], n, shift{nm, dy, dx})
			}
		}
	}
	return n
}

// coarseScore is the normalised overlap at level 2 only: the preselection
// score of the gallery. ones2 is the count of the candidate's level-2 crop
// within the crop columns.
func (p *Probe) coarseScore(r []uint64, ones2 int) float64 {
	l, pl := &p.g.lv[2], &p.lv[2]
	nw := len(r)
	cs := l.copyRows * l.stride
	best := shift{nm: -1}
	for dx := -l.dx; dx <= l.dx; dx++ {
		cp := pl.copies[(dx+l.dx)*cs : (dx+l.dx+1)*cs]
		for dy := -l.dy; dy <= l.dy; dy++ {
			a := (l.r0 + dy + l.pad) * l.stride
			nm := andCount(r, cp[a:a+nw])
			if nm > best.nm {
				best = shift{nm, dy, dx}
			}
		}
	}
	den := ones2 + int(pl.ones[(best.dy+l.dy)*(2*l.dx+1)+best.dx+l.dx])
	if den == 0 {
		return 0
	}
	return float64(best.nm) / float64(den)
}

func (p *Probe) scoreCoarseToFine(c *cand) float64 {
	var top2 [c2Keep2]shift
	n2 := p.coarse(c, &top2)

	// Level 1.
	var top1 [c2Keep1]shift
	n1 := 0
	{
		l, pl, r := &p.g.lv[1], &p.lv[1], c.crop[1]
		for _, s := range top2[:n2] {
			for ddy := -1; ddy <= 1; ddy++ {
				dy := 2*s.dy + ddy
				if dy < -l.dy || dy > l.dy {
					continue
				}
				for ddx := -1; ddx <= 1; ddx++ {
					dx := 2*s.dx + ddx
					if dx < -l.dx || dx > l.dx {
						continue
					}
					nm := andCount(r, pl.window(l, dy, dx))
					n1 = insertTop(top1[:], n1, shift{nm, dy, dx})
				}
			}
		}
	}

	// Level 0: neighbourhoods of the level-1 winners, then a hill climb.
	l, pl, r := &p.g.lv[0], &p.lv[0], c.crop[0]
	var seen [96]int32
	nseen := 0
	best := shift{nm: -1}
	eval := func(dy, dx int) {
		if dy < -l.dy || dy > l.dy || dx < -l.dx || dx > l.dx {
			return
		}
		key := int32((dy+l.dy)*(2*l.dx+1) + dx + l.dx)
		for _, k := range seen[:nseen] {
			if k == key {
				return
			}
		}
		if nseen < len(seen) {
			seen[nseen] = key
			nseen++
		}
		var nm int
		if l.stride == 3 {
			nm = andCount3(r, pl.window(l, dy, dx))
		} else {
			nm = andCount(r, pl.window(l, dy, dx))
		}
		if s := (shift{nm, dy, dx}); s.beats(best) {
			best = s
		}
	}
	for _, s := range top1[:n1] {
		for ddy := -1; ddy <= 1; ddy++ {
			for ddx := -1; ddx <= 1; ddx++ {
				eval(2*s.dy+ddy, 2*s.dx+ddx)
			}
		}
	}
	for step := 0; step < c2MaxClimb; step++ {
		from := best
		for ddy := -1; ddy <= 1; ddy++ {
			for ddx := -1; ddx <= 1; ddx++ {
				eval(from.dy+ddy, from.dx+ddx)
			}
		}
		if best == from {
			break
		}
	}
	return p.final(c, best.nm, best.dy+l.dy, best.dx+l.dx)
}
