package signals

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"seconds", "1s", time.Second, true},
		{"milliseconds", "20ms", 20 * time.Millisecond, true},
		{"minutes and zero seconds", "6m0s", 6 * time.Minute, true},
		{"fractional seconds after minutes", "1m30.5s", 90*time.Second + 500*time.Millisecond, true},
		{"hours and minutes", "2h3m", 2*time.Hour + 3*time.Minute, true},
		{"half second", "0.5s", 500 * time.Millisecond, true},
		{"leading dot", ".25s", 250 * time.Millisecond, true},
		{"trailing dot", "3.s", 3 * time.Second, true},
		{"microseconds ascii", "15us", 15 * time.Microsecond, true},
		{"microseconds micro sign", "15µs", 15 * time.Microsecond, true},
		{"microseconds greek mu", "15μs", 15 * time.Microsecond, true},
		{"nanoseconds", "7ns", 7, true},
		{"fractional milliseconds", "1.5ms", 1500 * time.Microsecond, true},
		{"sub-nanosecond truncated", "1.9ns", 1, true},
		{"bare zero", "0", 0, true},
		{"surrounding spaces", " 2s ", 2 * time.Second, true},
		{"openai day-long reset", "23h59m59.999s", 24*time.Hour - time.Millisecond, true},
		{"empty", "", 0, false},
		{"negative", "-1s", 0, false},
		{"explicit plus", "+1s", 0, false},
		{"no unit", "12", 0, false},
		{"unknown unit", "1d", 0, false},
		{"dot only", ".s", 0, false},
		{"two dots", "1.2.3s", 0, false},
		{"space inside", "1 s", 0, false},
		{"overflow", "9999999999999999999h", 0, false},
		{"overflow by sum", "2562047h2562047h", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseDuration(tc.in)
			assert.Equal(t, tc.wantOK, ok, "ParseDuration(%q) ok: got %v, want %v", tc.in, ok, tc.wantOK)
			assert.Equal(t, tc.want, got, "ParseDuration(%q): got %v, want %v", tc.in, got, tc.want)
		})
	}
}
