package signals

import (
	"net/http"
	"strings"
	"time"
)

// MaxRetryAfter is the longest retry hint the package accepts. Larger
// values are treated as garbage rather than honoured, so a confused or
// hostile server cannot park a client for days.
const MaxRetryAfter = 24 * time.Hour

// RetryAfter reads the server's retry hint from h.
//
// The non-standard "retry-after-ms" header (milliseconds, possibly
// fractional, sent by OpenAI and Anthropic SDK-compatible servers) wins over
// the standard "Retry-After" header, which may hold integer or decimal
// seconds or an HTTP date. A date is interpreted relative to now, or to the
// response's Date header when that shows the server's clock differs from
// the local one by more than a second or two; a date in the past yields 0
// (retry immediately). Negative, non-numeric or absurd
// values (above MaxRetryAfter) are ignored, in which case the next header is
// consulted. The second result reports whether a usable hint was found; the
// duration is always within [0, MaxRetryAfter].
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if d, ok := decimalHint(v, time.Millisecond); ok {
			return d, true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if d, ok := decimalHint(v, time.Second); ok {
		return d, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Add(clockSkew(h, now)).Sub(now)
	if d < 0 {
		return 0, true
	}
	if d > MaxRetryAfter {
		return 0, false
	}
	return d, true
}

// decimalHint parses an unsigned decimal number of units and accepts it
// only when it lies within [0, MaxRetryAfter].
func decimalHint(v string, unit time.Duration) (time.Duration, bool) {
	num, rest := splitNumber(strings.TrimSpace(v))
	if num == "" || rest != "" {
		return 0, false
	}
	d, ok := decimalDuration(num, unit)
	if !ok || d > MaxRetryAfter {
		return 0, false
	}
	return d, true
}

// clampHint accepts a hint parsed from a body only when it lies within
// [0, MaxRetryAfter].
func clampHint(d time.Duration, ok bool) (time.Duration, bool) {
	if !ok || d < 0 || d > MaxRetryAfter {
		return 0, false
	}
	return d, true
}
