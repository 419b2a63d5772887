// numeric: exact decimals with PostgreSQL 15's numeric semantics (scale
// rules, NaN and ±Infinity), for Lua's numeric userdata.
package pl

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// Limits of PostgreSQL's numeric storage format (numeric.c).
const (
	numericMaxIntDigits   = 131072 // (NUMERIC_WEIGHT_MAX + 1) * DEC_DIGITS
	numericMaxScale       = 16383  // NUMERIC_DSCALE_MAX
	numericMaxDisplay     = 1000   // NUMERIC_MAX_DISPLAY_SCALE
	numericMinSigDigits   = 16     // NUMERIC_MIN_SIG_DIGITS
	numericDecDigits      = 4      // DEC_DIGITS (digits per base-10000 digit)
	numericMaxParseExpAbs = math.MaxInt32 / 2
)

type numForm uint8

const (
	numFinite numForm = iota
	numNaN
	numPInf
	numNInf
)

// Numeric is coef × 10^-scale (scale is PostgreSQL's display scale, ≥ 0),
// or NaN, Infinity, -Infinity. Values are immutable once made.
type Numeric struct {
	form  numForm
	scale int32
	coef  big.Int
}

var (
	bigTen  = big.NewInt(10)
	bigOne  = big.NewInt(1)
	bigZero = new(big.Int)
)

// pow10 returns 10^n (n ≥ 0); small powers are cached.
func pow10(n int) *big.Int {
	if n < pow10Cached {
		return pow10Cache()[n]
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

const pow10Cached = 64

// pow10Cache is built on first use, not at package init: every backend
// pays its package inits when Go starts (docs/internals/boundary.md, What
// the load costs), and most never touch a numeric.
var pow10Cache = sync.OnceValue(func() []*big.Int {
	c := make([]*big.Int, pow10Cached)
	p := big.NewInt(1)
	for i := range c {
		c[i] = new(big.Int).Set(p)
		p.Mul(p, bigTen)
	}
	return c
})

// NumericNaN and friends are the special values.
func NumericNaN() *Numeric     { return &Numeric{form: numNaN} }
func numericPInf() *Numeric    { return &Numeric{form: numPInf} }
func numericNInf() *Numeric    { return &Numeric{form: numNInf} }
func numericZero() *Numeric    { return &Numeric{} }
func (n *Numeric) IsNaN() bool { return n.form == numNaN }

// IsFinite reports whether n is neither NaN nor an infinity.
func (n *Numeric) IsFinite() bool { return n.form == numFinite }

// NumericFromInt64 is exact.
func NumericFromInt64(i int64) *Numeric {
	n := &Numeric{}
	n.coef.SetInt64(i)
	return n
}

// NumericFromFloat converts a Lua number through its shortest decimal form
// that reads back as the same float (0.1 is 0.1, not 0.1000000000000000055...).
func NumericFromFloat(f float64) *Numeric {
	switch {
	case math.IsNaN(f):
		return NumericNaN()
	case math.IsInf(f, 1):
		return numericPInf()
	case math.IsInf(f, -1):
		return numericNInf()
	}
	n, err := ParseNumeric(strconv.FormatFloat(f, 'g', -1, 64))
	if err != nil { // cannot happen for a finite float
		panic(err)
	}
	return n
}

// ParseNumeric reads numeric's input syntax (numeric_in): surrounding
// spaces, a sign, digits with an optional point, an optional exponent, or
// NaN, Infinity, inf (any case, signed infinities).
func ParseNumeric(s string) (*Numeric, error) {
	t := strings.TrimFunc(s, isPGSpace)
	switch strings.ToLower(t) {
	case "nan":
		return NumericNaN(), nil
	case "infinity", "+infinity", "inf", "+inf":
		return numericPInf(), nil
	case "-infinity", "-inf":
		return numericNInf(), nil
	}
	bad := func() (*Numeric, error) {
		return nil, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type numeric: %q", s)
	}
	i := 0
	neg := false
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		neg = t[i] == '-'
		i++
	}
	var digits strings.Builder
	ndigits, frac := 0, 0
	seenPoint := false
	for ; i < len(t); i++ {
		c := t[i]
		if c >= '0' && c <= '9' {
			digits.WriteByte(c)
			ndigits++
			if seenPoint {
				frac++
			}
		} else if c == '.' && !seenPoint {
			seenPoint = true
		} else {
			break
		}
	}
	if ndigits == 0 {
		return bad()
	}
	exp := int64(0)
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		j := i
		if j < len(t) && (t[j] == '+' || t[j] == '-') {
			j++
		}
		k := j
		for k < len(t) && t[k] >= '0' && t[k] <= '9' {
			k++
		}
		if k == j {
			return bad()
		}
		e, err := strconv.ParseInt(t[i:k], 10, 64)
		if err != nil || e >= numericMaxParseExpAbs || e <= -numericMaxParseExpAbs {
			return nil, errNumericOverflow()
		}
		exp = e
		i = k
	}
	if i != len(t) {
		return bad()
	}
	// value = digits × 10^(exp - frac); display scale = max(frac - exp, 0).
	scale := int64(frac) - exp
	n := &Numeric{}
	ds := strings.TrimLeft(digits.String(), "0")
	if ds == "" {
		if scale < 0 {
			scale = 0
		}
		if scale > numericMaxScale {
			return nil, errNumericOverflow()
		}
		n.scale = int32(scale)
		return n, nil
	}
	// Digits before the point, to refuse what numeric's format cannot hold
	// before building a huge integer.
	if int64(len(ds))-scale > numericMaxIntDigits {
		return nil, errNumericOverflow()
	}
	if scale > numericMaxScale {
		return nil, errNumericOverflow()
	}
	n.coef.SetString(ds, 10)
	if scale < 0 {
		n.coef.Mul(&n.coef, pow10(int(-scale)))
		scale = 0
	}
	n.scale = int32(scale)
	if neg {
		n.coef.Neg(&n.coef)
	}
	return n, nil
}

func isPGSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
}

func errNumericOverflow() *Error {
	return Errorf(sqlstate.NumericValueOutOfRange, "value overflows numeric format")
}

func errDivisionByZero() *Error { return Errorf(sqlstate.DivisionByZero, "division by zero") }

// String is numeric_out's text: all digits, exactly scale of them after the point.
func (n *Numeric) String() string {
	switch n.form {
	case numNaN:
		return "NaN"
	case numPInf:
		return "Infinity"
	case numNInf:
		return "-Infinity"
	}
	neg := n.coef.Sign() < 0
	d := new(big.Int).Abs(&n.coef).String()
	sc := int(n.scale)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if sc == 0 {
		b.WriteString(d)
		return b.String()
	}
	if len(d) <= sc {
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", sc-len(d)))
		b.WriteString(d)
		return b.String()
	}
	b.WriteString(d[:len(d)-sc])
	b.WriteByte('.')
	b.WriteString(d[len(d)-sc:])
	return b.String()
}

// Float64 is the nearest float (numeric_float8 reads the text form too).
func (n *Numeric) Float64() float64 {
	switch n.form {
	case numNaN:
		return math.NaN()
	case numPInf:
		return math.Inf(1)
	case numNInf:
		return math.Inf(-1)
	}
	f, _ := strconv.ParseFloat(n.String(), 64)
	return f
}

// Int64 returns the value when it is an integer within int64.
func (n *Numeric) Int64() (int64, bool) {
	if n.form != numFinite {
		return 0, false
	}
	q, r := n.intParts()
	if r.Sign() != 0 || !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// intParts splits coef into integer part and remainder (truncating).
func (n *Numeric) intParts() (*big.Int, *big.Int) {
	if n.scale == 0 {
		return new(big.Int).Set(&n.coef), new(big.Int)
	}
	return new(big.Int).QuoRem(&n.coef, pow10(int(n.scale)), new(big.Int))
}

// Sign is -1, 0 or 1 (NaN: 0; use IsNaN first).
func (n *Numeric) Sign() int {
	switch n.form {
	case numPInf:
		return 1
	case numNInf:
		return -1
	case numNaN:
		return 0
	}
	return n.coef.Sign()
}

// rescaled returns coef × 10^(to - scale) for to ≥ scale.
func (n *Numeric) rescaled(to int32) *big.Int {
	if to == n.scale {
		return &n.coef
	}
	return new(big.Int).Mul(&n.coef, pow10(int(to-n.scale)))
}

func finite(coef *big.Int, scale int32) (*Numeric, error) {
	n := &Numeric{scale: scale}
	n.coef.Set(coef)
	return n.checked()
}

// checked enforces numeric's storage limits on a result, rounding the
// fraction to the largest display scale like make_result does for products.
func (n *Numeric) checked() (*Numeric, error) {
	if n.form != numFinite {
		return n, nil
	}
	if n.scale > numericMaxScale {
		n = n.round(numericMaxScale)
	}
	if n.coef.Sign() != 0 {
		digits := len(new(big.Int).Abs(&n.coef).String())
		if digits-int(n.scale) > numericMaxIntDigits {
			return nil, errNumericOverflow()
		}
	}
	return n, nil
}

// Cmp orders like numeric's btree: -Infinity < finite < Infinity < NaN, NaN = NaN.
func (n *Numeric) Cmp(m *Numeric) int {
	rank := func(x *Numeric) int {
		switch x.form {
		case numNInf:
			return -1
		case numPInf:
			return 1
		case numNaN:
			return 2
		}
		return 0
	}
	rn, rm := rank(n), rank(m)
	if rn != 0 || rm != 0 {
		switch {
		case rn < rm:
			return -1
		case rn > rm:
			return 1
		}
		return 0
	}
	s := max(n.scale, m.scale)
	return n.rescaled(s).Cmp(m.rescaled(s))
}

// Neg is unary minus.
func (n *Numeric) Neg() *Numeric {
	switch n.form {
	case numPInf:
		return numericNInf()
	case numNInf:
		return numericPInf()
	case numNaN:
		return n
	}
	r := &Numeric{scale: n.scale}
	r.coef.Neg(&n.coef)
	return r
}

// Abs is the absolute value.
func (n *Numeric) Abs() *Numeric {
	if n.Sign() < 0 {
		return n.Neg()
	}
	return n
}

// Add is numeric_add: scale max(s1, s2).
func (n *Numeric) Add(m *Numeric) (*Numeric, error) {
	if n.form != numFinite || m.form != numFinite {
		switch {
		case n.form == numNaN || m.form == numNaN:
			return NumericNaN(), nil
		case n.form == numPInf && m.form == numNInf, n.form == numNInf && m.form == numPInf:
			return NumericNaN(), nil
		case n.form != numFinite:
			return n, nil
		}
		return m, nil
	}
	s := max(n.scale, m.scale)
	return finite(new(big.Int).Add(n.rescaled(s), m.rescaled(s)), s)
}

// Sub is numeric_sub.
func (n *Numeric) Sub(m *Numeric) (*Numeric, error) { return n.Add(m.Neg()) }

// Mul is numeric_mul: the exact product (scale s1 + s2).
func (n *Numeric) Mul(m *Numeric) (*Numeric, error) {
	if n.form != numFinite || m.form != numFinite {
		if n.form == numNaN || m.form == numNaN {
			return NumericNaN(), nil
		}
		sn, sm := n.Sign(), m.Sign()
		if sn == 0 || sm == 0 {
			return NumericNaN(), nil // Infinity × 0
		}
		if sn*sm > 0 {
			return numericPInf(), nil
		}
		return numericNInf(), nil
	}
	return finite(new(big.Int).Mul(&n.coef, &m.coef), n.scale+m.scale)
}

// divSpecial is what numeric_div and numeric_div_trunc do when an operand
// is NaN or infinite (ok false: both are finite).
func (n *Numeric) divSpecial(m *Numeric) (*Numeric, bool, error) {
	if n.form == numFinite && m.form == numFinite {
		return nil, false, nil
	}
	if n.form == numNaN || m.form == numNaN {
		return NumericNaN(), true, nil
	}
	if n.form != numFinite {
		if m.form != numFinite {
			return NumericNaN(), true, nil // Inf / Inf
		}
		switch m.Sign() {
		case 0:
			return nil, true, errDivisionByZero()
		case 1:
			return n, true, nil
		}
		return n.Neg(), true, nil
	}
	return numericZero(), true, nil // finite / Inf
}

// Div is numeric_div: rounded (half away from zero) at PostgreSQL's
// select_div_scale: at least 16 significant digits, and no fewer
// fraction digits than either operand shows.
func (n *Numeric) Div(m *Numeric) (*Numeric, error) {
	if r, ok, err := n.divSpecial(m); ok {
		return r, err
	}
	if m.coef.Sign() == 0 {
		return nil, errDivisionByZero()
	}
	rscale := selectDivScale(n, m)
	// n/m × 10^rscale = c1 × 10^(s2 + rscale) / (c2 × 10^s1)
	num := new(big.Int).Mul(&n.coef, pow10(int(m.scale)+rscale))
	den := new(big.Int).Mul(&m.coef, pow10(int(n.scale)))
	return finite(quoRound(num, den), int32(rscale))
}

// quoRound divides, rounding half away from zero.
func quoRound(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		r2 := new(big.Int).Abs(r)
		r2.Lsh(r2, 1)
		if r2.Cmp(new(big.Int).Abs(den)) >= 0 {
			if (num.Sign() < 0) != (den.Sign() < 0) {
				q.Sub(q, bigOne)
			} else {
				q.Add(q, bigOne)
			}
		}
	}
	return q
}

// selectDivScale is numeric.c's select_div_scale, on base-10000 digits.
func selectDivScale(n, m *Numeric) int {
	w1, f1 := n.nbaseLead()
	w2, f2 := m.nbaseLead()
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := numericMinSigDigits - qweight*numericDecDigits
	rscale = max(rscale, int(n.scale), int(m.scale), 0)
	return min(rscale, numericMaxDisplay)
}

// nbaseLead returns the weight and value of the first non-zero base-10000
// digit of |n| (0, 0 for zero), as numeric's internal form has them.
func (n *Numeric) nbaseLead() (int, int) {
	if n.coef.Sign() == 0 {
		return 0, 0
	}
	d := new(big.Int).Abs(&n.coef).String()
	e := len(d) - 1 - int(n.scale) // decimal exponent of the leading digit
	w := e / numericDecDigits
	if e < 0 && e%numericDecDigits != 0 {
		w-- // floor division
	}
	g := e - w*numericDecDigits + 1 // leading digits in the first group (1..4)
	lead := d
	if len(lead) > g {
		lead = lead[:g]
	}
	v, _ := strconv.Atoi(lead)
	for k := len(lead); k < g; k++ {
		v *= 10
	}
	return w, v
}

// DivTrunc is div(): the quotient truncated towards zero, scale 0.
func (n *Numeric) DivTrunc(m *Numeric) (*Numeric, error) {
	if r, ok, err := n.divSpecial(m); ok {
		if err == nil && r.form == numFinite {
			return numericZero(), nil
		}
		return r, err
	}
	if m.coef.Sign() == 0 {
		return nil, errDivisionByZero()
	}
	s := max(n.scale, m.scale)
	return finite(new(big.Int).Quo(n.rescaled(s), m.rescaled(s)), 0)
}

// Mod is numeric_mod (mod() and %): the remainder of truncated division,
// sign of the dividend, scale max(s1, s2).
func (n *Numeric) Mod(m *Numeric) (*Numeric, error) {
	if n.form != numFinite || m.form != numFinite {
		switch {
		case n.form == numNaN || m.form == numNaN:
			return NumericNaN(), nil
		case n.form != numFinite:
			if m.form == numFinite && m.coef.Sign() == 0 {
				return nil, errDivisionByZero()
			}
			return NumericNaN(), nil
		}
		return n, nil // finite mod ±Infinity
	}
	if m.coef.Sign() == 0 {
		return nil, errDivisionByZero()
	}
	s := max(n.scale, m.scale)
	return finite(new(big.Int).Rem(n.rescaled(s), m.rescaled(s)), s)
}

// FloorMod is Lua's % on numerics: n - floor(n/m)·m (sign of the divisor).
func (n *Numeric) FloorMod(m *Numeric) (*Numeric, error) {
	r, err := n.Mod(m)
	if err != nil || r.form != numFinite || m.form != numFinite {
		if err == nil && r.form == numFinite && m.form != numFinite && r.Sign() != 0 && r.Sign() != m.Sign() {
			// finite % Infinity of the other sign: floor(n/Inf) = -1.
			return NumericNaN(), nil
		}
		return r, err
	}
	if r.Sign() != 0 && r.Sign() != m.Sign() {
		return r.Add(m)
	}
	return r, nil
}

// round is round(n, s) for s ≥ 0 on a finite value (half away from zero);
// the result shows s fraction digits.
func (n *Numeric) round(s int32) *Numeric {
	if n.form != numFinite {
		return n
	}
	r := &Numeric{scale: s}
	if s >= n.scale {
		r.coef.Set(n.rescaled(s))
		return r
	}
	r.coef.Set(quoRound(&n.coef, pow10(int(n.scale-s))))
	return r
}

// Round is round(numeric, int): s may be negative (rounds to tens...).
func (n *Numeric) Round(s int) (*Numeric, error) { return n.roundWith(s, quoRound) }

// Trunc is trunc(numeric, int).
func (n *Numeric) Trunc(s int) (*Numeric, error) {
	return n.roundWith(s, func(a, b *big.Int) *big.Int { return new(big.Int).Quo(a, b) })
}

// Floor and Ceil are floor() and ceil() (scale 0).
func (n *Numeric) Floor() (*Numeric, error) {
	return n.roundWith(0, func(a, b *big.Int) *big.Int {
		q, m := new(big.Int).DivMod(a, b, new(big.Int)) // Euclidean; b > 0, so floor
		_ = m
		return q
	})
}

func (n *Numeric) Ceil() (*Numeric, error) {
	f, err := n.Neg().Floor()
	if err != nil {
		return nil, err
	}
	return f.Neg(), nil
}

func (n *Numeric) roundWith(s int, div func(a, b *big.Int) *big.Int) (*Numeric, error) {
	if n.form != numFinite {
		return n, nil
	}
	if s > numericMaxScale {
		s = numericMaxScale
	}
	if s < -numericMaxIntDigits {
		s = -numericMaxIntDigits
	}
	out := int32(max(s, 0))
	if int32(s) >= n.scale {
		return finite(n.rescaled(int32(s)), out)
	}
	// Keep s fraction digits (negative s: zero -s integer digits too).
	q := div(&n.coef, pow10(int(n.scale)-s))
	if s < 0 {
		q.Mul(q, pow10(-s))
	}
	return finite(q, out)
}
