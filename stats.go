package ratellmiter

import (
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// Stats is a snapshot of a limiter's state and totals. For every limiter,
// Requested = Waiting + InFlight + Finished + Cancelled.
type Stats struct {
	Name          string // the limiter's name (see WithName)
	RPM           int    // requests per minute the limiter works at now
	ConfiguredRPM int    // configured requests per minute: as created, or as last set with SetRPM
	LearnedRPM    int    // the limit learned from pauses (see WithLearning); 0 if none
	// SharedRPM is, for a limiter sharing a quota (WithStore), the
	// requests per minute the store last said it holds the quota to
	// when that is below RPM (a limiter sharing it has a lower limit):
	// the rate the limiter works at, over all of them. 0 otherwise.
	SharedRPM int
	// HeldUntil is when the limiter resumes issuing after the server
	// reported a request or token budget of a minute with nothing
	// remaining; zero if not held.
	HeldUntil time.Time
	// Server holds the budgets the server last reported in its
	// rate-limit headers (through the Transport, ObserveHeaders, or Do from
	// an SDK error's response). A budget never reported
	// is the zero ServerBudget.
	Server ServerLimits

	// Requested counts tickets asked for: TryAcquire successes, and every
	// Acquire the limiter did not refuse outright (closed, a quota spent,
	// more tokens than a minute's budget), including those that then
	// failed fast on a deadline or gave up waiting.
	Requested   uint64
	Issued      uint64 // times a ticket was issued, re-issues after rate limits included
	Finished    uint64 // tickets finished with Done or Abandon, or rate limited on their last attempt (Do, the Transport)
	Cancelled   uint64 // tickets given up while waiting, to be issued or re-issued: ctx ended, deadline, limiter stopped
	RateLimited uint64 // rate-limit errors reported
	Overflow    uint64 // requests that could not be issued at once and waited
	Waiting     int    // tickets in the queue now
	Retrying    int    // of those, rate-limited tickets waiting to be re-issued
	InFlight    int    // tickets issued and not finished

	// Paused reports that the limiter issues nothing until a probe
	// succeeds. Closing or stopping the limiter ends its pause.
	Paused     bool
	Pauses     uint64        // pauses so far
	PausedTime time.Duration // total time paused, the current pause included
	// NextProbe is, while paused, when the next probe is due; it is
	// zero while a probe is under way (IsBlocked running, a canary
	// waiting to go or in flight), and once a canary probe is due: the
	// pause then lasts until a request comes to go as the canary.
	NextProbe time.Time
}

// Stats returns a snapshot of the limiter.
func (l *BucketRateLimiter) Stats() Stats {
	l.lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.lim.learned != 0 {
		l.raiseLimit(now) // the clean minutes of an idle spell count
	}
	fast := l.doneFast.Load()
	s := Stats{
		Name:          l.name,
		RPM:           l.b.rpm,
		ConfiguredRPM: l.lim.configured,
		LearnedRPM:    l.lim.learned,
		Server:        l.lim.server,
		Requested:     l.stats.requested,
		Issued:        l.stats.issued,
		Finished:      l.stats.finished + fast,
		Cancelled:     l.stats.cancelled,
		RateLimited:   l.stats.rateLimited,
		Overflow:      l.stats.overflow,
		Waiting:       l.q.len(),
		Retrying:      l.q.retries,
		InFlight:      l.inFlight - int(fast),
		Paused:        l.p.paused,
		Pauses:        l.stats.pauses,
		PausedTime:    time.Duration(l.stats.pausedNs),
	}
	if l.lim.holdUntil > now {
		s.HeldUntil = l.timeOf(l.lim.holdUntil)
	}
	if l.sh != nil {
		if _, rpm := l.sh.caps(l); rpm < l.b.rpm {
			s.SharedRPM = rpm
		}
	}
	if l.p.paused {
		s.PausedTime += time.Duration(now - l.p.since)
		if p := &l.p; p.probeAt > 0 && p.canary == nil && !p.armed && !p.probing {
			s.NextProbe = l.timeOf(l.p.probeAt)
		}
	}
	return s
}

// ServerLimits are the budgets a server reported in the rate-limit headers
// of its latest response: OpenAI's x-ratelimit-*, Anthropic's
// anthropic-ratelimit-*.
type ServerLimits struct {
	Requests     ServerBudget // requests
	Tokens       ServerBudget // combined input and output tokens
	InputTokens  ServerBudget // Anthropic only
	OutputTokens ServerBudget // Anthropic only
	Seen         time.Time    // when the response carrying them arrived; zero if never
}

// ServerBudget is one budget as the server reported it.
type ServerBudget struct {
	Limit     int64     // the window's allowance; 0 if not sent
	Remaining int64     // what was left; meaningful when Known
	Reset     time.Time // when the allowance is full again; zero if not sent
	Known     bool      // Remaining was sent
}

func serverBudget(b signals.Budget) ServerBudget {
	return ServerBudget{Limit: b.Limit, Remaining: b.Remaining, Reset: b.Reset, Known: b.Known}
}
