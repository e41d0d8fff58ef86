package ratellmiter

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrRateLimited is returned by Do, wrapped around fn's last error, when
	// a call was still rate limited after its last attempt (see
	// WithMaxRetries), or at its first when the call is a probe's (see
	// BucketRateLimiter.Acquire), whose Ticket.RateLimited returns an
	// error wrapping it at once. The Transport returns the last
	// rate-limited response instead, as the server sent it.
	ErrRateLimited = errors.New("ratellmiter: rate limited")

	// ErrQuotaExhausted reports a quota that retrying cannot fix for a long
	// time. When the provider says a quota or spend limit is used up, Do
	// fails at once with an error that wraps it and the provider's error
	// (the Transport returns the provider's answer as it is). While the
	// WithRequestsPerDay budget, or the request budget of a day the
	// server reports, is used up, Acquire (and so Do and the Transport)
	// fails with a *QuotaError whose Reset says when there is room again.
	ErrQuotaExhausted = errors.New("ratellmiter: quota exhausted")

	// ErrStopped is returned by Acquire, and to every waiter, once the
	// limiter's Monitor has been stopped, and by NewBucketRateLimiter for
	// a limiter that would join a stopped Monitor.
	ErrStopped = errors.New("ratellmiter: monitor stopped")

	// ErrClosed is returned by Acquire, and to every waiter, once the limiter
	// has been closed.
	ErrClosed = errors.New("ratellmiter: limiter closed")

	// ErrTicketFinished is returned by Ticket.RateLimited when the ticket
	// was already finished or is not issued.
	ErrTicketFinished = errors.New("ratellmiter: ticket already finished")

	// ErrWouldExceedDeadline is returned, wrapped, at once instead of
	// waiting when the caller's deadline (or the WithMaxWait bound) comes
	// before the earliest moment a ticket could be issued, and at the
	// WithMaxWait bound by a wait that might have ended within it but did
	// not. (A wait cut short by the context's own deadline returns the
	// context's error.) The earliest moment counts the waiters ahead and
	// the budgets; a token budget counts only while no call is in flight,
	// since the usage a call reports may give tokens back at any time. A
	// call finished with Done is taken to have reported its usage: one
	// reported after Done (Ticket.Used) comes too late for this estimate.
	ErrWouldExceedDeadline = errors.New("ratellmiter: ticket cannot be issued before the deadline")

	// ErrProbeUnsupported is what a RateLimitedService's IsBlocked returns
	// when the service has no probe of its own. The limiter then resumes
	// after a pause by letting a single queued request through as a canary.
	ErrProbeUnsupported = errors.New("ratellmiter: service has no probe")

	// ErrExceedsBudget is returned at once by Acquire for a call that
	// needs more tokens than a whole minute of a token budget allows: no
	// wait can admit it (the provider would refuse it as too large).
	ErrExceedsBudget = errors.New("ratellmiter: request exceeds a per-minute budget")

	// ErrNoLimiter is returned, wrapped, by a Transport routing by model
	// (WithServiceLimiters) for a request whose model has no limiter when
	// the service has no default one either.
	ErrNoLimiter = errors.New("ratellmiter: no limiter for the model")

	// ErrBodyTooLarge is returned, wrapped, by a Transport for a request
	// body larger than it may buffer (WithMaxBodyBytes).
	ErrBodyTooLarge = errors.New("ratellmiter: request body too large to buffer")
)

// RateLimitError is an error that says a call was rate limited. Return it
// (or wrap it) from the function given to Do to tell the limiter, with the
// server's retry-after hint when there is one.
type RateLimitError struct {
	StatusCode int           // the HTTP status, usually 429; 0 when unknown
	RetryAfter time.Duration // the server's hint; 0 when there is none
	Err        error         // the underlying error, if any
}

// Error describes the rate limit.
func (e *RateLimitError) Error() string {
	if e == nil {
		return "ratellmiter: nil *RateLimitError"
	}
	msg := "rate limited"
	if e.StatusCode != 0 {
		msg = fmt.Sprintf("rate limited (HTTP %d)", e.StatusCode)
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(", retry after %v", e.RetryAfter)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *RateLimitError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// QuotaError is the error returned when a provider says a quota or spend
// limit is used up. It satisfies errors.Is(err, ErrQuotaExhausted) and
// unwraps to the provider's error.
type QuotaError struct {
	Quota string    // the quota or error code the provider named
	Reset time.Time // when the quota has room again; zero if not known
	Err   error     // the provider's error, if any
}

// Error names the quota.
func (e *QuotaError) Error() string {
	if e == nil {
		return "ratellmiter: nil *QuotaError"
	}
	msg := "ratellmiter: quota exhausted"
	if e.Quota != "" {
		msg += " (" + e.Quota + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrQuotaExhausted.
func (e *QuotaError) Is(target error) bool { return e != nil && target == ErrQuotaExhausted }

// Unwrap returns the provider's error.
func (e *QuotaError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}
