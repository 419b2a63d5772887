// numeric powers with integer exponents, square roots and signs, at the
// scales PostgreSQL's numeric ^, sqrt() and sign() give.
package pl

import (
	"math"
	"math/big"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// maxExactPowDigits bounds the digits of an exact power; beyond, the power
// is computed in binary floating point with guard digits and rounded.
const maxExactPowDigits = 20000

// PowInt is n ^ m for an integral m (as numeric ^ gives it for such an
// exponent): rounded half away from zero at the larger of 16 and n's
// scale. A fractional exponent, NaN and infinities are refused (0A000).
func (n *Numeric) PowInt(m *Numeric) (*Numeric, error) {
	if n.form != numFinite || m.form != numFinite {
		return nil, Errorf(sqlstate.FeatureNotSupported, "numeric ^ of NaN or infinity is not supported in Lua: use SQL's power()")
	}
	if m.fracNonZero() {
		return nil, Errorf(sqlstate.FeatureNotSupported, "numeric ^ with a fractional exponent (%s) is not supported in Lua: use SQL's power()", m.String())
	}
	whole, _ := m.intParts()
	e := whole.Int64()
	if !whole.IsInt64() || e > math.MaxInt32 || e < math.MinInt32 {
		return nil, Errorf(sqlstate.NumericValueOutOfRange, "numeric ^: exponent %s is out of range", m.String())
	}
	rscale := int32(min(max(numericMinSigDigits, int(n.scale)), numericMaxDisplay))
	one := &Numeric{}
	one.coef.SetInt64(1)
	switch {
	case e == 0:
		return one.round(rscale), nil
	case n.coef.Sign() == 0:
		if e < 0 {
			return nil, Errorf(sqlstate.InvalidArgumentForPowerFunction, "zero raised to a negative power is undefined")
		}
		return (&Numeric{}).round(rscale), nil
	}
	abs := new(big.Int).Abs(&n.coef)
	cdigits := len(abs.String())
	// Decimal exponent of the result's leading digit, roughly.
	mag := float64(e) * (math.Log10(float64(leadFloat(abs, cdigits))) + float64(cdigits-1-int(n.scale)))
	if mag > numericMaxIntDigits+1 {
		return nil, errNumericOverflow()
	}
	if mag < -float64(rscale)-2 {
		return (&Numeric{}).round(rscale), nil
	}
	neg := n.coef.Sign() < 0 && e%2 != 0
	ae := e
	if ae < 0 {
		ae = -ae
	}
	var r *Numeric
	if float64(cdigits)*float64(ae) <= maxExactPowDigits {
		p := new(big.Int).Exp(abs, big.NewInt(ae), nil)
		pscale := int64(n.scale) * ae
		if e > 0 {
			x := &Numeric{scale: int32(min(pscale, math.MaxInt32))}
			if pscale > math.MaxInt32 {
				return (&Numeric{}).round(rscale), nil
			}
			x.coef.Set(p)
			r = x.round(rscale)
		} else {
			// 10^pscale / p, at rscale.
			num := new(big.Int).Mul(pow10(int(pscale)), pow10(int(rscale)))
			r = &Numeric{scale: rscale}
			r.coef.Set(quoRound(num, p))
		}
	} else {
		r = powFloat(abs, n.scale, e, rscale, mag)
	}
	if neg {
		r = r.Neg()
	}
	return r.checked()
}

// fracNonZero reports whether a finite n has a non-zero fraction.
func (n *Numeric) fracNonZero() bool {
	if n.scale == 0 {
		return false
	}
	return new(big.Int).Rem(&n.coef, pow10(int(n.scale))).Sign() != 0
}

// leadFloat is the leading digits of x (cdigits long) as d.ddd.
func leadFloat(x *big.Int, cdigits int) float64 {
	s := x.String()
	if len(s) > 17 {
		s = s[:17]
	}
	f, _ := new(big.Float).SetString(s)
	v, _ := f.Float64()
	return v / math.Pow(10, float64(len(s)-1))
}

// powFloat is (coef × 10^-scale)^e in binary floating point, with about 40
// decimal digits to spare beyond what rscale shows, rounded at rscale.
func powFloat(coef *big.Int, scale int32, e int64, rscale int32, mag float64) *Numeric {
	digits := max(mag, 0) + float64(rscale) + 40
	prec := uint(digits*3.33) + 64
	base := new(big.Float).SetPrec(prec).SetInt(coef)
	base.Quo(base, new(big.Float).SetPrec(prec).SetInt(pow10(int(scale))))
	ae := e
	if ae < 0 {
		ae = -ae
	}
	r := new(big.Float).SetPrec(prec).SetInt64(1)
	for b := ae; b > 0; b >>= 1 {
		if b&1 == 1 {
			r.Mul(r, base)
		}
		if b > 1 {
			base.Mul(base, base)
		}
	}
	if e < 0 {
		r.Quo(new(big.Float).SetPrec(prec).SetInt64(1), r)
	}
	// r × 10^(rscale+1), truncated, then the last digit rounds.
	r.Mul(r, new(big.Float).SetPrec(prec).SetInt(pow10(int(rscale)+1)))
	t, _ := r.Int(nil)
	q := &Numeric{scale: rscale + 1}
	q.coef.Set(t)
	return q.round(rscale)
}

// Sqrt is sqrt(numeric): at least 16 significant digits and no fewer
// fraction digits than n shows, rounded half away from zero; negative
// values are 2201F.
func (n *Numeric) Sqrt() (*Numeric, error) {
	switch n.form {
	case numNaN, numPInf:
		return n, nil
	case numNInf:
		return nil, Errorf(sqlstate.InvalidArgumentForPowerFunction, "cannot take square root of a negative number")
	}
	if n.coef.Sign() < 0 {
		return nil, Errorf(sqlstate.InvalidArgumentForPowerFunction, "cannot take square root of a negative number")
	}
	w, _ := n.nbaseLead()
	sweight := (w+1)*numericDecDigits/2 - 1
	rscale := int32(min(max(numericMinSigDigits-sweight, int(n.scale), 0), numericMaxDisplay))
	if n.coef.Sign() == 0 {
		return (&Numeric{}).round(rscale), nil
	}
	// floor(sqrt(coef × 10^(2(rscale+1) - scale))) needs an even power: scale up.
	shift := 2*(int(rscale)+1) - int(n.scale)
	x := new(big.Int).Set(&n.coef)
	if shift >= 0 {
		x.Mul(x, pow10(shift))
	} else {
		x.Quo(x, pow10(-shift))
	}
	q := &Numeric{scale: rscale + 1}
	q.coef.Sqrt(x)
	return q.round(rscale), nil
}

// SignNum is sign(numeric): -1, 0 or 1 (NaN for NaN).
func (n *Numeric) SignNum() *Numeric {
	if n.form == numNaN {
		return n
	}
	r := &Numeric{}
	r.coef.SetInt64(int64(n.Sign()))
	return r
}
