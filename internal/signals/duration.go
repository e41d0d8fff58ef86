package signals

import (
	"math"
	"strings"
	"time"
)

// durationUnits maps the unit suffixes accepted by ParseDuration to their
// length. Longer suffixes that share a prefix with shorter ones ("ms" and
// "m") are resolved by parseUnit, which tries the longest match first.
var durationUnits = map[string]time.Duration{
	"ns": time.Nanosecond,
	"us": time.Microsecond,
	"µs": time.Microsecond, // U+00B5 micro sign
	"μs": time.Microsecond, // U+03BC Greek small letter mu
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
}

// ParseDuration parses a reset or retry duration as sent by providers, for
// example OpenAI's "1s", "20ms", "6m0s", "1m30.5s" or "0.5s". The syntax is
// that of Go's time.ParseDuration without a sign: one or more decimal
// numbers, each followed by a unit among h, m, s, ms, us (or µs) and ns.
// The bare string "0" is accepted as zero. Empty, signed, unit-less and
// overflowing inputs are rejected.
func ParseDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, true
	}
	if s == "" {
		return 0, false
	}
	var total time.Duration
	for s != "" {
		num, rest := splitNumber(s)
		if num == "" {
			return 0, false
		}
		unit, n := parseUnit(rest)
		if n == 0 {
			return 0, false
		}
		d, ok := decimalDuration(num, unit)
		if !ok || total > math.MaxInt64-d {
			return 0, false
		}
		total += d
		s = rest[n:]
	}
	return total, true
}

// splitNumber splits s into a leading decimal number (digits with at most
// one dot and at least one digit) and the remainder.
func splitNumber(s string) (num, rest string) {
	i, digits, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			if digits == 0 {
				return "", s
			}
			return s[:i], s[i:]
		}
	}
	if digits == 0 {
		return "", s
	}
	return s, ""
}

// parseUnit returns the unit at the start of s and the number of bytes it
// occupies, or 0 bytes when s does not start with a known unit.
func parseUnit(s string) (time.Duration, int) {
	for _, n := range []int{len("µs"), 2, 1} {
		if n > len(s) {
			continue
		}
		if u, ok := durationUnits[s[:n]]; ok {
			return u, n
		}
	}
	return 0, 0
}

// decimalDuration converts a decimal number string (as produced by
// splitNumber) expressed in unit into a Duration. Fractions finer than a
// nanosecond are truncated. It reports false on overflow or syntax error.
func decimalDuration(num string, unit time.Duration) (time.Duration, bool) {
	intPart, frac, _ := strings.Cut(num, ".")
	if intPart == "" && frac == "" {
		return 0, false
	}
	var whole int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if whole > (math.MaxInt64-9)/10 {
			return 0, false
		}
		whole = whole*10 + int64(c-'0')
	}
	if whole > math.MaxInt64/int64(unit) {
		return 0, false
	}
	d := whole * int64(unit)
	// Accumulate the fraction digit by digit, each scaled down by a
	// further factor of ten; digits beyond nanosecond precision vanish.
	scale := int64(unit)
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if scale == 0 {
			continue
		}
		part := int64(c-'0') * scale / 10
		scale /= 10
		if d > math.MaxInt64-part {
			return 0, false
		}
		d += part
	}
	return time.Duration(d), true
}
