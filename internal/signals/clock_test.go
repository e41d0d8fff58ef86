package signals

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The server's clock is five minutes behind the local one: the times it
// writes are moved onto the local clock by the difference its Date header
// shows. Within a second or two, they are taken as written.
func TestServerTimesFollowTheDateHeaderWhenTheClocksDisagree(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		server time.Time // the server's clock when it answered
		date   string    // its Date header, if not the server's clock
		skew   time.Duration
	}{
		{"server five minutes behind", now.Add(-5 * time.Minute), "", 5 * time.Minute},
		{"server an hour ahead", now.Add(time.Hour), "", -time.Hour},
		{"within the truncation and travel time", now.Add(-time.Second), "", 0},
		{"no Date header", now.Add(-5 * time.Minute), "-", 0},
		{"malformed Date header", now.Add(-5 * time.Minute), "yesterday", 0},
		{"a nonsense date, in year 1", now.Add(-5 * time.Minute), "Mon, 01 Jan 0001 00:00:00 GMT", 0},
		{"a date two days ahead", now.Add(-5 * time.Minute), now.Add(48 * time.Hour).Format(http.TimeFormat), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			switch tc.date {
			case "":
				h.Set("Date", tc.server.Format(http.TimeFormat))
			case "-":
			default:
				h.Set("Date", tc.date)
			}
			reset := tc.server.Add(30 * time.Second)
			h.Set("Anthropic-Ratelimit-Requests-Limit", "50")
			h.Set("Anthropic-Ratelimit-Requests-Remaining", "0")
			h.Set("Anthropic-Ratelimit-Requests-Reset", reset.Format(time.RFC3339))
			h.Set("Retry-After", reset.Format(http.TimeFormat))

			l := ParseHeaders(h, now)
			assert.Equal(t, reset.Add(tc.skew), l.Requests.Reset, "the reset on the local clock")
			want := max(reset.Add(tc.skew).Sub(now), 0)
			assert.True(t, l.HasRetryAfter)
			assert.Equal(t, want, l.RetryAfter, "the Retry-After date on the local clock")
		})
	}
}
