package signals

import (
	"encoding/json"
	"math"
	"strconv"
)

// maxCount caps counts read from bodies so that sums cannot overflow.
const maxCount = math.MaxInt64 / 4

// rawCount is jsonCount for a valid JSON value; nil (a missing member)
// yields false.
func rawCount(v []byte) (int64, bool) {
	if !isNumber(v) {
		return 0, false
	}
	return numberCount(string(v))
}

// jsonCount converts a decoded JSON number to a non-negative count. Whole
// numbers written with a fraction or exponent ("100.0", "1e3") are
// accepted; negative, fractional and non-numeric values are not. Large
// values are capped at maxCount.
func jsonCount(v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	return numberCount(string(num))
}

// numberCount is jsonCount for the text of a JSON number.
func numberCount(num string) (int64, bool) {
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(n, maxCount), true
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil && !math.IsInf(f, 1) {
		return 0, false
	}
	if f < 0 || f != math.Trunc(f) {
		return 0, false
	}
	if f >= maxCount {
		return maxCount, true
	}
	return int64(f), true
}

// satMul multiplies two non-negative counts, saturating at math.MaxInt64.
func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// satAdd adds two non-negative counts, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}
