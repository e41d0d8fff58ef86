package signals

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRetryAfter(t *testing.T) {
	httpDate := func(d time.Duration) string {
		return testNow.Add(d).Format(http.TimeFormat)
	}
	tests := []struct {
		name   string
		h      http.Header
		want   time.Duration
		wantOK bool
	}{
		{"absent", hdr(), 0, false},
		{"integer seconds", hdr("Retry-After", "20"), 20 * time.Second, true},
		{"decimal seconds", hdr("Retry-After", "1.5"), 1500 * time.Millisecond, true},
		{"zero seconds", hdr("Retry-After", "0"), 0, true},
		{"padded seconds", hdr("Retry-After", " 7 "), 7 * time.Second, true},
		{"milliseconds", hdr("retry-after-ms", "250"), 250 * time.Millisecond, true},
		{"fractional milliseconds", hdr("retry-after-ms", "19875.5"), 19875500 * time.Microsecond, true},
		{"milliseconds win over seconds", hdr("retry-after-ms", "250", "retry-after", "1"), 250 * time.Millisecond, true},
		{"garbage milliseconds fall back to seconds", hdr("retry-after-ms", "soon", "retry-after", "3"), 3 * time.Second, true},
		{"http date in future", hdr("Retry-After", httpDate(90*time.Second)), 90 * time.Second, true},
		{"http date in past", hdr("Retry-After", httpDate(-time.Hour)), 0, true},
		{"http date too far ahead", hdr("Retry-After", httpDate(48*time.Hour)), 0, false},
		{"rfc 850 date", hdr("Retry-After", testNow.Add(time.Minute).Format(time.RFC850)), time.Minute, true},
		{"exactly one day", hdr("Retry-After", "86400"), 24 * time.Hour, true},
		{"more than one day", hdr("Retry-After", "86401"), 0, false},
		{"negative seconds", hdr("Retry-After", "-5"), 0, false},
		{"negative milliseconds", hdr("retry-after-ms", "-5"), 0, false},
		{"nan", hdr("Retry-After", "NaN"), 0, false},
		{"infinity", hdr("retry-after-ms", "Inf"), 0, false},
		{"exponent", hdr("Retry-After", "1e3"), 0, false},
		{"huge number", hdr("Retry-After", "99999999999999999999999"), 0, false},
		{"garbage", hdr("Retry-After", "later please"), 0, false},
		{"unit suffix", hdr("Retry-After", "20s"), 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := RetryAfter(tc.h, testNow)
			assert.Equal(t, tc.wantOK, ok, "RetryAfter(%v) ok: got %v, want %v", tc.h, ok, tc.wantOK)
			assert.Equal(t, tc.want, got, "RetryAfter(%v): got %v, want %v", tc.h, got, tc.want)
		})
	}
}
