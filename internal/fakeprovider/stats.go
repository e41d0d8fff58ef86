package fakeprovider

import (
	"net/http"
	"slices"
	"sync"
	"time"
)

// maxAcceptTimes bounds how many accept timestamps a server keeps for
// MaxInWindow; later accepts are counted but not timestamped.
const maxAcceptTimes = 1_000_000

// Stats are a server's totals since it was created.
type Stats struct {
	// Requests counts every POST to a provider endpoint, malformed ones
	// included.
	Requests int
	// Accepted counts requests admitted and charged against the budgets,
	// including those whose client went away before the answer (see
	// Tokens).
	Accepted int
	// Rejected429 counts requests refused with 429, whatever the reason
	// (rate limit, penalty, outage or exhausted quota).
	Rejected429 int
	// Overloaded529 counts requests refused with 529.
	Overloaded529 int
	// Tokens is the sum of input and output tokens of the accepted requests
	// that were answered.
	Tokens int
}

// SecondCount is what happened in one wall-clock second.
type SecondCount struct {
	// Start is the beginning of the second.
	Start time.Time
	// Accepted counts requests admitted in that second.
	Accepted int
	// Rejected counts requests refused (429 or 529) in that second.
	Rejected int
}

// recorder collects observations; it is safe for concurrent use.
type recorder struct {
	mu      sync.Mutex
	start   time.Time // start of the wall second the server was created in
	totals  Stats
	seconds []SecondCount
	accepts []time.Time
}

// newRecorder starts recording at now.
func newRecorder(now time.Time) *recorder {
	return &recorder{start: now.Truncate(time.Second)}
}

// slot returns the SecondCount for t, growing the table as needed, or nil
// for a time before the start.
func (r *recorder) slot(t time.Time) *SecondCount {
	if t.Before(r.start) {
		return nil
	}
	i := int(t.Sub(r.start) / time.Second)
	for len(r.seconds) <= i {
		r.seconds = append(r.seconds, SecondCount{Start: r.start.Add(time.Duration(len(r.seconds)) * time.Second)})
	}
	return &r.seconds[i]
}

// request counts a POST to a provider endpoint.
func (r *recorder) request() {
	r.mu.Lock()
	r.totals.Requests++
	r.mu.Unlock()
}

// accepted records an admission at t.
func (r *recorder) accepted(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.totals.Accepted++
	if s := r.slot(t); s != nil {
		s.Accepted++
	}
	if len(r.accepts) < maxAcceptTimes {
		r.accepts = append(r.accepts, t)
	}
}

// rejected records a refusal with status at t.
func (r *recorder) rejected(t time.Time, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch status {
	case statusOverloaded:
		r.totals.Overloaded529++
	case http.StatusTooManyRequests:
		r.totals.Rejected429++
	}
	if s := r.slot(t); s != nil {
		s.Rejected++
	}
}

// tokens adds the usage of an accepted request.
func (r *recorder) tokens(n int64) {
	r.mu.Lock()
	r.totals.Tokens += int(n)
	r.mu.Unlock()
}

// Stats returns the server's totals so far.
func (s *Server) Stats() Stats {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.totals
}

// PerSecond returns one entry for every wall-clock second from the one the
// server was created in up to the current one (per Config.Now), oldest
// first.
func (s *Server) PerSecond() []SecondCount {
	now := s.now()
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.slot(now)
	return slices.Clone(s.rec.seconds)
}

// MaxInWindow returns the most requests admitted within any half-open
// interval of length d, computed from the admission times recorded (the
// first million). It returns 0 when d <= 0.
func (s *Server) MaxInWindow(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	s.rec.mu.Lock()
	ts := slices.Clone(s.rec.accepts)
	s.rec.mu.Unlock()
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, i := 0, 0
	for j := range ts {
		for ts[j].Sub(ts[i]) >= d {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}
