package matcher

// Coarse-to-fine search. Level 2 (4 x 4 pooled) is searched exhaustively;
// the best c2Keep2 displacements are refined at level 1 (the 3 x 3
// neighbourhood of twice the displacement), the best one of those at level
// 0 (again its 3 x 3 neighbourhood), where a hill climb over the
// 8-neighbourhood then runs to a local maximum of Nm. The score is Miura's
// formula at the displacement reached. Its agreement with the exhaustive
// search is measured in c2f_test.go and reported in
// docs/template-format.md.

var (
	c2Keep2    = 2  // displacements kept from level 2
	c2MaxClimb = 16 // hill-climb steps at level 0
)

const maxKeep2 = 4

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

// scanLevel2 calls fn for every displacement of level 2, in blocks of five
// vertical displacements sharing the loads of the candidate's rows.
func (p *Probe) scanLevel2(r []uint64, fn func(nm, dy, dx int)) {
	l, pl := &p.g.lv[2], &p.lv[2]
	cs := l.copyRows * l.stride
	for dx := -l.dx; dx <= l.dx; dx++ {
		cp := pl.copies[(dx+l.dx)*cs : (dx+l.dx+1)*cs]
		for dy0 := -l.dy; dy0 <= l.dy; dy0 += 5 {
			a := (l.r0 + dy0 + l.pad) * l.stride
			var nm [5]int
			nm[0], nm[1], nm[2], nm[3], nm[4] = andCountDy5(r, cp[a:], l.stride)
			for i, n := range nm {
				if dy0+i > l.dy {
					break
				}
				fn(n, dy0+i, dx)
			}
		}
	}
}

// coarseScore is the normalised overlap at level 2 only: the preselection
// score of the gallery. ones2 is the count of the candidate's level-2 crop
// within the crop columns.
func (p *Probe) coarseScore(r []uint64, ones2 int) float64 {
	l, pl := &p.g.lv[2], &p.lv[2]
	best := shift{nm: -1}
	p.scanLevel2(r, func(nm, dy, dx int) {
		if nm > best.nm {
			best = shift{nm, dy, dx}
		}
	})
	den := ones2 + int(pl.ones[(best.dy+l.dy)*(2*l.dx+1)+best.dx+l.dx])
	if den == 0 {
		return 0
	}
	return float64(best.nm) / float64(den)
}

// block3 evaluates the 3 x 3 displacements centred on (dy, dx) at level l
// and calls fn for those within range.
func (p *Probe) block3(li int, r []uint64, dy, dx int, fn func(nm, dy, dx int)) {
	l, pl := &p.g.lv[li], &p.lv[li]
	cs := l.copyRows * l.stride
	for x := dx - 1; x <= dx+1; x++ {
		if x < -l.dx || x > l.dx {
			continue
		}
		a := (x+l.dx)*cs + (l.r0+dy-1+l.pad)*l.stride
		n0, n1, n2 := andCountDy3(r, pl.copies[a:], l.stride)
		if dy-1 >= -l.dy {
			fn(n0, dy-1, x)
		}
		if dy >= -l.dy && dy <= l.dy {
			fn(n1, dy, x)
		}
		if dy+1 <= l.dy {
			fn(n2, dy+1, x)
		}
	}
}

func (p *Probe) scoreCoarseToFine(c *cand) float64 {
	var top2 [maxKeep2]shift
	n2, keep := 0, min(c2Keep2, maxKeep2)
	p.scanLevel2(c.crop[2], func(nm, dy, dx int) {
		if n2 < keep || nm >= top2[n2-1].nm {
			n2 = insertTop(top2[:keep], n2, shift{nm, dy, dx})
		}
	})

	// Level 1: keep the best.
	best1 := shift{nm: -1}
	for _, s := range top2[:n2] {
		p.block3(1, c.crop[1], 2*s.dy, 2*s.dx, func(nm, dy, dx int) {
			if s := (shift{nm, dy, dx}); s.beats(best1) {
				best1 = s
			}
		})
	}

	// Level 0: its neighbourhood, then a hill climb.
	l, pl, r := &p.g.lv[0], &p.lv[0], c.crop[0]
	dy0 := min(max(2*best1.dy, -l.dy), l.dy)
	dx0 := min(max(2*best1.dx, -l.dx), l.dx)
	var seen [64]int32
	nseen := 0
	best := shift{nm: -1}
	p.block3(0, r, dy0, dx0, func(nm, dy, dx int) {
		seen[nseen] = int32((dy+l.dy)*(2*l.dx+1) + dx + l.dx)
		nseen++
		if s := (shift{nm, dy, dx}); s.beats(best) {
			best = s
		}
	})
	for step := 0; step < c2MaxClimb; step++ {
		from := best
		if from.dy == dy0 && from.dx == dx0 && step == 0 {
			break // the centre of the block is a local maximum
		}
		for y := from.dy - 1; y <= from.dy+1; y++ {
			if y < -l.dy || y > l.dy {
				continue
			}
		next:
			for x := from.dx - 1; x <= from.dx+1; x++ {
				if x < -l.dx || x > l.dx {
					continue
				}
				key := int32((y+l.dy)*(2*l.dx+1) + x + l.dx)
				for _, k := range seen[:nseen] {
					if k == key {
						continue next
					}
				}
				if nseen < len(seen) {
					seen[nseen] = key
					nseen++
				}
				var nm int
				if l.stride == 3 {
					nm = andCount3(r, pl.window(l, y, x))
				} else {
					nm = andCount(r, pl.window(l, y, x))
				}
				if s := (shift{nm, y, x}); s.beats(best) {
					best = s
				}
			}
		}
		if best == from {
			break
		}
	}
	return p.final(c, best.nm, best.dy+l.dy, best.dx+l.dx)
}
