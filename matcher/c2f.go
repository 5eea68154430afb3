package matcher

// Coarse-to-fine search. Level 2 (4 x 4 pooled) is searched exhaustively;
// the best c2Keep2 displacements are refined at level 1 (the 3 x 3
// neighbourhood of twice the displacement), the best c2Keep1 of those at
// level 0 (again 3 x 3 neighbourhoods, plus the zero displacement), where a
// hill climb over the 8-neighbourhood then runs to a local maximum of Nm.
// The score is Miura's formula at the displacement reached. Its agreement
// with the exhaustive search is measured in c2f_test.go and reported in
// docs/template-format.md. The pyramid levels pool 2 x 2 blocks as "at
// least two of four" (pool2).

var (
	c2Keep2    = 3  // displacements kept from level 2
	c2Keep1    = 2  // displacements kept from level 1
	c2MaxClimb = 16 // hill-climb steps at level 0
)

const (
	maxKeep2 = 4
	maxKeep1 = 4
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

// level2 computes Nm of every level-2 displacement, in chunks of columns
// of displacements, and calls visit after each chunk: buf[i*ny+j], for
// i < nx and j <= 2*dy, is then Nm at (j-dy, x0+i-dx).
func (p *Probe) level2(r []uint64, buf *[256]int32, visit func(x0, nx, ny int)) {
	l, pl := &p.g.lv[2], &p.lv[2]
	cs := l.copyRows * l.stride
	ny := 2*l.dy + 1
	chunk := max(1, len(buf)/ny)
	base := (l.r0 - l.dy + l.pad) * l.stride
	for x0 := 0; x0 <= 2*l.dx; x0 += chunk {
		nx := min(chunk, 2*l.dx+1-x0)
		andCountGrid(r, pl.copies[x0*cs+base:], cs, nx, l.stride, ny, buf[:])
		visit(x0, nx, ny)
	}
}

// The gallery's preselection score is refine1(r1, ones1, coarseBest(r2)):
// the best level-2 displacement refined at level 1 (its 3 x 3
// neighbourhood), scored with Miura's formula at level 1. r1 and r2 are
// the candidate's level-1 and level-2 crops, ones1 and ones2 the counts of
// its level-1 and level-2 crops within the crop columns. On real templates
// it ranks the full-search winner far higher than the level-2 score alone
// (docs/template-format.md), which the opt-in cascade uses only as a
// first stage (coarseScore).

// coarseBest returns the level-2 displacement with the largest overlap.
func (p *Probe) coarseBest(r2 []uint64) shift {
	var top2 [maxKeep2]shift
	p.coarseTop(r2, &top2, 1)
	return top2[0]
}

// coarseScore is Miura's formula at the level-2 displacement s.
func (p *Probe) coarseScore(s shift, ones2 int) float64 {
	return p.levelScore(2, s, ones2)
}

// levelScore is Miura's formula at displacement s of level li, for a
// candidate crop with ones set bits within the crop columns.
func (p *Probe) levelScore(li int, s shift, ones int) float64 {
	l := &p.g.lv[li]
	den := ones + int(p.lv[li].ones[(s.dy+l.dy)*(2*l.dx+1)+s.dx+l.dx])
	if den == 0 {
		return 0
	}
	return float64(s.nm) / float64(den)
}

// refine1 is the preselection score from the best level-2 displacement s.
func (p *Probe) refine1(r1 []uint64, ones1 int, s shift) float64 {
	best := shift{nm: -1}
	p.block3(1, r1, 2*s.dy, 2*s.dx, func(nm, dy, dx int) {
		if s := (shift{nm, dy, dx}); s.beats(best) {
			best = s
		}
	})
	return p.levelScore(1, best, ones1)
}

// coarseTop returns the best keep displacements of level 2 in top, the
// first scanned (dx, then dy, ascending) winning ties.
func (p *Probe) coarseTop(r []uint64, top *[maxKeep2]shift, keep int) int {
	l, pl := &p.g.lv[2], &p.lv[2]
	var buf [256]int32
	ny := 2*l.dy + 1
	if pl.lanes != nil && andCountLanesArch(r, pl.lanes, pl.laneWidth, buf[:]) {
		vals := buf[:l.nShifts()]
		if keep == 1 {
			bi := maxFirst(vals)
			top[0] = shift{int(vals[bi]), bi%ny - l.dy, bi/ny - l.dx}
			return 1
		}
		return insertTops(top, 0, keep, -1, vals, 0, ny, l)
	}
	n := 0
	floor := -1 // Nm to beat once top is full
	p.level2(r, &buf, func(x0, nx, ny int) {
		n = insertTops(top, n, keep, floor, buf[:nx*ny], x0, ny, l)
		if n == keep {
			floor = top[keep-1].nm
		}
	})
	return n
}

// insertTops inserts the level-2 counts vals (displacement column x0 on)
// into top[:n], keeping the best keep, and returns the new length.
func insertTops(top *[maxKeep2]shift, n, keep, floor int, vals []int32, x0, ny int, l *level) int {
	for i, v := range vals {
		nm := int(v)
		if nm <= floor {
			continue
		}
		// Insert after equal counts: the first scanned wins ties.
		j := min(n, keep-1)
		for j > 0 && top[j-1].nm < nm {
			top[j] = top[j-1]
			j--
		}
		top[j] = shift{nm, i%ny - l.dy, x0 + i/ny - l.dx}
		if n < keep {
			n++
		}
		if n == keep {
			floor = top[keep-1].nm
		}
	}
	return n
}

// block3 evaluates the 3 x 3 displacements centred on (dy, dx) at level
// li and calls fn for those within range.
func (p *Probe) block3(li int, r []uint64, dy, dx int, fn func(nm, dy, dx int)) {
	l, pl := &p.g.lv[li], &p.lv[li]
	cs := l.copyRows * l.stride
	x0, x1 := max(dx-1, -l.dx), min(dx+1, l.dx)
	if x0 > x1 {
		return
	}
	var buf [9]int32
	a := (x0+l.dx)*cs + (l.r0+dy-1+l.pad)*l.stride
	andCountGrid(r, pl.copies[a:], cs, x1-x0+1, l.stride, 3, buf[:])
	for i := 0; i <= x1-x0; i++ {
		for j := 0; j < 3; j++ {
			if y := dy - 1 + j; y >= -l.dy && y <= l.dy {
				fn(int(buf[i*3+j]), y, x0+i)
			}
		}
	}
}

func (p *Probe) scoreCoarseToFine(c *cand) float64 {
	var top2 [maxKeep2]shift
	n2 := p.coarseTop(c.crop[2], &top2, min(c2Keep2, maxKeep2))

	// Level 1: keep the best c2Keep1.
	var top1 [maxKeep1]shift
	n1, keep1 := 0, min(c2Keep1, maxKeep1)
	for _, s := range top2[:n2] {
		p.block3(1, c.crop[1], 2*s.dy, 2*s.dx, func(nm, dy, dx int) {
			n1 = insertTop(top1[:keep1], n1, shift{nm, dy, dx})
		})
	}

	// Level 0: their neighbourhoods, then a hill climb.
	l, pl, r := &p.g.lv[0], &p.lv[0], c.crop[0]
	var seen [64]int32
	nseen := 0
	best := shift{nm: -1}
	note := func(nm, dy, dx int) {
		if nseen < len(seen) {
			seen[nseen] = int32((dy+l.dy)*(2*l.dx+1) + dx + l.dx)
			nseen++
		}
		if s := (shift{nm, dy, dx}); s.beats(best) {
			best = s
		}
	}
	zero := false
	for _, s := range top1[:n1] {
		dy0 := min(max(2*s.dy, -l.dy), l.dy)
		dx0 := min(max(2*s.dx, -l.dx), l.dx)
		p.block3(0, r, dy0, dx0, note)
		zero = zero || (dy0 >= -1 && dy0 <= 1 && dx0 >= -1 && dx0 <= 1)
	}
	// Normalised fingers are centred: the zero displacement is always a
	// candidate, whatever the coarse levels say.
	if !zero {
		var buf [1]int32
		andCountGrid(r, pl.window(l, 0, 0), 0, 1, 0, 1, buf[:])
		note(int(buf[0]), 0, 0)
	}
	for step := 0; step < c2MaxClimb; step++ {
		from := best
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
				var buf [1]int32
				andCountGrid(r, pl.window(l, y, x), 0, 1, 0, 1, buf[:])
				if s := (shift{int(buf[0]), y, x}); s.beats(best) {
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
