package calib

import "math"

// RuleOf30 is the number of errors that must be expected at a target rate
// before a measurement counts as resolving it (Doddington's rule of 30:
// with 30 errors the true rate lies within about ±30 % of the observed one
// at 90 % confidence). A target FMR is resolved by n impostor comparisons
// when target*n >= RuleOf30.
const RuleOf30 = 30

// Resolves reports whether n trials resolve the target rate.
func Resolves(target float64, n int) bool { return target*float64(n) >= RuleOf30 }

// ClopperPearson returns the exact two-sided binomial confidence interval
// for k successes in n trials at confidence conf (0.95 for 95 %). For k = 0
// the lower bound is 0 and the upper bound 1-(alpha/2)^(1/n); for n = 0 the
// interval is [0, 1].
func ClopperPearson(k, n int, conf float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	k = max(0, min(k, n))
	a := (1 - conf) / 2
	// P(X >= k | p) = I_p(k, n-k+1), increasing in p; the lower bound is
	// where it equals a. P(X <= k | p) = 1 - I_p(k+1, n-k), decreasing; the
	// upper bound is where it equals a.
	if k > 0 {
		lo = bisect(func(p float64) float64 { return regIncBeta(float64(k), float64(n-k+1), p) - a })
	}
	hi = 1
	if k < n {
		hi = bisect(func(p float64) float64 { return (1 - regIncBeta(float64(k+1), float64(n-k), p)) - a })
		// f decreasing here: bisect finds the root all the same.
	}
	return lo, hi
}

// bisect finds the root of a monotone f on [0, 1].
func bisect(f func(float64) float64) float64 {
	lo, hi := 0.0, 1.0
	up := f(hi) > f(lo)
	for range 200 {
		mid := (lo + hi) / 2
		if (f(mid) < 0) == up {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-15 {
			break
		}
	}
	return (lo + hi) / 2
}

// regIncBeta is the regularised incomplete beta function I_x(a, b), by its
// continued fraction (evaluated with the modified Lentz method), using the
// symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges
// slowly.
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	if x > (a+1)/(a+b+2) {
		return 1 - regIncBeta(b, a, 1-x)
	}
	lga, _ := math.Lgamma(a)
	lgb, _ := math.Lgamma(b)
	lgab, _ := math.Lgamma(a + b)
	front := math.Exp(lgab-lga-lgb+a*math.Log(x)+b*math.Log1p(-x)) / a
	const tiny = 1e-300
	f, c, d := 1.0, 1.0, 0.0
	for i := 0; i <= 10000; i++ {
		m := float64(i / 2)
		var num float64
		switch {
		case i == 0:
			num = 1
		case i%2 == 0:
			num = m * (b - m) * x / ((a + 2*m - 1) * (a + 2*m))
		default:
			num = -(a + m) * (a + b + m) * x / ((a + 2*m) * (a + 2*m + 1))
		}
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		d = 1 / d
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		cd := c * d
		f *= cd
		if math.Abs(1-cd) < 1e-14 {
			return front * (f - 1)
		}
	}
	return front * (f - 1)
}
