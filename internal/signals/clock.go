package signals

import (
	"net/http"
	"time"
)

// minClockSkew is the least difference between the server's Date header
// and the local clock that is taken for a wrong clock rather than for the
// header's truncation to the second and the response's travel time.
const minClockSkew = 2 * time.Second

// maxClockSkew is the largest difference taken for a wrong clock: a Date
// header further off (a server or proxy that writes a nonsense date) is
// not believed, so it cannot move every reset by years.
const maxClockSkew = 24 * time.Hour

// clockSkew returns how far the local clock, read at now, is ahead of the
// server's, as the response's Date header shows it; 0 when the header is
// missing, malformed or further off than maxClockSkew, or the clocks agree
// within minClockSkew. Adding it to a time the server wrote (an absolute
// reset, a Retry-After date) gives that time on the local clock.
func clockSkew(h http.Header, now time.Time) time.Duration {
	v := h.Get("Date")
	if v == "" {
		return 0
	}
	date, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	skew := now.Sub(date)
	if skew > -minClockSkew && skew < minClockSkew || skew > maxClockSkew || skew < -maxClockSkew {
		return 0
	}
	return skew
}
