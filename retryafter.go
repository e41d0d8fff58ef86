package ratellmiter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHint bounds the retry-after hints the limiter believes.
const maxHint = 24 * time.Hour

// retryAfterHeader reads a response's retry-after-ms or Retry-After header
// (seconds or an HTTP date). Values that make no sense are ignored.
func retryAfterHeader(h http.Header) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) && ms <= float64(maxHint/time.Millisecond) {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s >= 0 && s <= maxHint.Seconds() {
			return time.Duration(s * float64(time.Second)), true
		}
		return 0, false
	}
	if t, err := http.ParseTime(v); err == nil {
		d := time.Until(t)
		return min(max(d, 0), maxHint), true
	}
	return 0, false
}
