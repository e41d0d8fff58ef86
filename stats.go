package ratellmiter

import "time"

// Stats is a snapshot of a limiter's state and totals. For every limiter,
// Requested = Waiting + InFlight + Finished + Cancelled.
type Stats struct {
	Name string
	RPM  int // configured requests per minute

	Requested   uint64 // tickets asked for (Acquire and TryAcquire successes)
	Issued      uint64 // times a ticket was issued, re-issues after rate limits included
	Finished    uint64 // tickets finished with Done, or given up after rate limits
	Cancelled   uint64 // tickets given up while waiting: ctx ended, deadline, limiter stopped
	RateLimited uint64 // rate-limit errors reported
	Overflow    uint64 // requests that could not be issued at once and waited
	Waiting     int    // tickets in the queue now
	Retrying    int    // of those, rate-limited tickets waiting to be re-issued
	InFlight    int    // tickets issued and not finished

	Paused     bool          // issuing nothing until a probe succeeds
	Pauses     uint64        // pauses so far
	PausedTime time.Duration // total time paused, the current pause included
	NextProbe  time.Time     // while paused: when the next probe is due
}

// Stats returns a snapshot of the limiter.
func (l *BucketRateLimiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	fast := l.doneFast.Load()
	s := Stats{
		Name:        l.name,
		RPM:         l.b.rpm,
		Requested:   l.stats.requested,
		Issued:      l.stats.issued,
		Finished:    l.stats.finished + fast,
		Cancelled:   l.stats.cancelled,
		RateLimited: l.stats.rateLimited,
		Overflow:    l.stats.overflow,
		Waiting:     l.q.len(),
		Retrying:    l.q.retries,
		InFlight:    l.inFlight - int(fast),
		Paused:      l.p.paused,
		Pauses:      l.stats.pauses,
		PausedTime:  time.Duration(l.stats.pausedNs),
	}
	if l.p.paused {
		s.PausedTime += time.Duration(now - l.p.since)
		if l.p.probeAt > 0 {
			s.NextProbe = l.timeOf(l.p.probeAt)
		}
	}
	return s
}
