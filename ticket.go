package ratellmiter

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// ticketState is where a ticket is in its life. It changes under the
// limiter's mu, except from issued to done on Done's lock-free path.
type ticketState = uint32

const (
	stateWaiting   ticketState = iota // queued, not issued yet
	stateIssued                       // issued: the caller may make its call
	stateDone                         // finished with Done
	stateCancelled                    // given up: the caller's context ended, or the limiter stopped
)

// A Ticket is the permission to make one call. Acquire returns it issued;
// the caller makes the call and then reports how it went: Done when the call
// is over (whatever its result, unless it was rate limited), RateLimited
// when the server said to slow down.
//
// A Ticket must not be shared between goroutines that report on it at the
// same time; reporting twice is harmless.
type Ticket struct {
	l        *BucketRateLimiter
	issuedAt int64         // when it was last issued, on the limiter's time line
	prev     *Ticket       // wait queue links
	next     *Ticket       //
	ready    chan struct{} // signalled when a waiting ticket is issued or refused
	state    atomic.Uint32 // a ticketState
	in, out  int32         // tokens charged: the estimate, then the usage reported
	queued   bool          // in the wait queue
	retry    bool          // queued as a rate-limited retry
	canary   bool          // issued during a pause, to find out whether the server accepts requests
	admitted bool          // the server's answer arrived, no refusal, and was noted then (see answered)
	probe    bool          // taken by a probe's call during a pause: l is nil, and it counts nowhere
}

// ends finishes a ticket that belongs to no limiter (a probe's call, or a
// Ticket{} made by hand) and reports whether t is one. A zero Ticket was
// never issued, and stays as it is.
func (t *Ticket) ends(to ticketState) bool {
	if t.l != nil {
		return false
	}
	t.state.CompareAndSwap(stateIssued, to)
	return true
}

// Done finishes the ticket: the call it allowed is over. Calling Done more
// than once, or after RateLimited returned an error, does nothing.
func (t *Ticket) Done() {
	if t == nil || t.ends(stateDone) {
		return
	}
	l := t.l
	// Unless the limiter must note the time (logs, a canary, an in-flight
	// cap to dispatch against), Done takes no lock: the ticket changes
	// state and the limiter counts it, both atomically.
	if !l.logging && !t.canary && l.cfg.maxInFlight == 0 {
		if t.state.CompareAndSwap(stateIssued, stateDone) {
			if !t.admitted {
				l.noteOK(t.issuedAt)
			}
			l.doneFast.Add(1)
		}
		return
	}
	t.finish(true)
}

// RateLimited hands the ticket back because its call was rate limited;
// retryAfter is the server's hint (0 when there is none). The first rate
// limit pauses the whole limiter until the server accepts requests again.
// RateLimited then waits, at the front of the line, ahead of every new
// request, until the ticket is issued again and returns nil: the caller may
// retry its call with the same ticket. If ctx ends first, or the limiter
// stops, it returns the error and the ticket is finished. It fails at
// once, finishing the ticket, with a QuotaError while the server reports
// its request budget of a longer window (a day) used up, and with an
// error wrapping ErrWouldExceedDeadline if the retry cannot be issued
// before ctx's deadline or within WithMaxWait (the server's hint alone
// may say so).
func (t *Ticket) RateLimited(ctx context.Context, retryAfter time.Duration) error {
	if t == nil {
		return ErrTicketFinished
	}
	if ctx == nil {
		// As Acquire, but before the limiter's lock: a panic under it
		// would leave every other caller waiting for ever.
		panic("ratellmiter: Ticket.RateLimited: nil Context")
	}
	return t.waitRetry(ctx, retryAfter, false)
}

// waitRetry is RateLimited; overloaded says the server refused the call
// for its own load (a 529, a 503 with a hint) rather than for the caller's
// rate, so that the limiter pauses all the same but learns nothing about
// its limit from it.
func (t *Ticket) waitRetry(ctx context.Context, retryAfter time.Duration, overloaded bool) error {
	return t.waitRetryReleasing(ctx, retryAfter, overloaded, nil)
}

// waitRetryReleasing is waitRetry, calling release, when given, once the
// ticket is queued to wait, after the checks that fail at once: what the
// caller holds of the refused call it lets go of then, rather than
// through the wait.
func (t *Ticket) waitRetryReleasing(ctx context.Context, retryAfter time.Duration, overloaded bool, release func()) error {
	if t.l == nil {
		if t.probe && t.state.CompareAndSwap(stateIssued, stateCancelled) {
			return errProbeCall
		}
		return ErrTicketFinished
	}
	l := t.l
	l.lock()
	if t.state.Load() != stateIssued {
		l.mu.Unlock()
		return ErrTicketFinished
	}
	now := l.now()
	t.handBack(now, retryAfter, overloaded)
	err := l.refusal(ctx)
	if err == nil && now < l.lim.spentUntil {
		// The server said its daily request budget is used up: the
		// retry fails fast, as Acquire does.
		err = l.spentRefusal(now)
	}
	if err == nil {
		// A retry goes ahead of every new request, behind the
		// retries already waiting.
		err = l.tooLate(ctx, now, t, l.q.retries)
	}
	if err != nil {
		t.state.Store(stateCancelled)
		l.stats.cancelled++
		l.dispatch(now)
		l.mu.Unlock()
		return err
	}
	t.state.Store(stateWaiting)
	if t.ready == nil {
		t.ready = make(chan struct{}, 1)
	}
	l.q.pushRetry(t)
	l.dispatch(now)
	l.mu.Unlock()
	if release != nil {
		release()
	}
	if err := l.wait(ctx, t); err != nil {
		return err
	}
	l.observeWait(t, now, true)
	return nil
}

// rateLimitedFinal reports a rate limit on a ticket whose caller will not
// retry: the limiter pauses as for waitRetry, and the ticket is finished.
func (t *Ticket) rateLimitedFinal(retryAfter time.Duration, overloaded bool) {
	if t.ends(stateDone) {
		return
	}
	l := t.l
	l.lock()
	defer l.mu.Unlock()
	if t.state.Load() != stateIssued {
		return
	}
	now := l.now()
	t.state.Store(stateDone)
	t.handBack(now, retryAfter, overloaded)
	l.stats.finished++
	l.act.add(l, now, fieldFinished)
	l.dispatch(now)
}

// handBack takes back the issued ticket t, whose call was rate limited at
// now (or refused for the server's load, if overloaded): its budget charge
// is refunded (the server refused the call), the rate limit is counted,
// and the limiter pauses or backs off. The caller sets t's next state.
// Requires mu.
func (t *Ticket) handBack(now int64, retryAfter time.Duration, overloaded bool) {
	l := t.l
	l.inFlight--
	if l.budgeted {
		l.bud.charge(now, t, -1)
	}
	l.stats.rateLimited++
	l.act.add(l, now, fieldRateLimited)
	if p := &l.p; t.canary && p.paused && t.issuedAt >= p.since {
		// A canary of this pause refused, in flight or already past its
		// timeout: news newer than any canary sent before it (see
		// canarySucceeded).
		p.canaryRefused = max(p.canaryRefused, t.issuedAt)
	}
	l.onRateLimited(now, t.issuedAt, retryAfter, t.canary && l.p.canary == t, overloaded)
	t.canary = false
}

// Abandon finishes the ticket of a call that got no answer from the
// server (it failed on the network, timed out, or its caller gave up on
// it), or an answer that says nothing about the server's limits (a server
// error). Use it instead of Done when the call says nothing about them. The
// ticket counts as finished, but teaches the limiter nothing: in
// particular, a canary (the one call let through during a pause to see
// whether the server accepts requests again) that got no answer does not
// end the pause; the next probe comes later, as when the server refuses
// it. Calling Abandon after Done, or more than once, does nothing.
//
// Do calls it for a call that fails with a network error, a server error
// (5xx), an exhausted quota or because its context ended, and for a
// function that panics; the Transport for network errors, server errors
// and exhausted quotas.
func (t *Ticket) Abandon() {
	// A finished ticket is left alone without the lock: Do abandons every
	// ticket it has finished, as a guard against panics.
	if t != nil && t.state.Load() == stateIssued {
		t.finish(false)
	}
}

// finish finishes an issued ticket under the lock. A canary that ended
// well (ok) resumes the limiter; one that got no answer counts as one the
// server refused without a hint.
func (t *Ticket) finish(ok bool) {
	if t.ends(stateDone) {
		return
	}
	l := t.l
	l.lock()
	defer l.mu.Unlock()
	if t.state.Load() != stateIssued {
		return
	}
	t.state.Store(stateDone)
	l.inFlight--
	l.stats.finished++
	now := l.now()
	l.act.add(l, now, fieldFinished)
	if ok && !t.canary && !t.admitted {
		l.noteOK(t.issuedAt)
	}
	if t.canary {
		t.canary = false
		switch {
		case ok:
			if l.canarySucceeded(t, now) {
				return
			}
		case l.p.canary == t:
			l.p.canary = nil
			l.backOff(now, 0, "canary got no answer")
		}
	}
	l.dispatch(now)
}

// answered tells the limiter that the server answered t's call without
// refusing it, though its body may still be streaming: a canary ends the
// pause now rather than when its body is closed, and the admission of any
// other ticket counts now for learning (see learnFromPartial), where the
// server's answer came back, during a pause or before it, rather than
// where its stream ends. The ticket stays issued.
func (t *Ticket) answered() {
	if !t.canary {
		if t.l != nil && t.state.Load() == stateIssued {
			t.l.noteOK(t.issuedAt)
			t.admitted = true
		}
		return
	}
	l := t.l
	l.lock()
	defer l.mu.Unlock()
	if t.state.Load() != stateIssued || !t.canary {
		return
	}
	t.canary = false
	l.canarySucceeded(t, l.now())
}

// refusedInStream tells the limiter that the server, having answered t's
// call, refused it within its stream: the error event of a stream that
// answered 200 reports an overload (overloaded) or a rate limit. The
// limiter pauses, or backs off, as for a refusal of now, not of when t
// was issued (the server has answered since); an overload lowers no
// learned limit. The ticket stays issued, its charge kept (the server ran
// the call), to be finished as any answer's; a probe's counts nowhere.
func (t *Ticket) refusedInStream(overloaded bool) {
	if t.l == nil {
		return
	}
	l := t.l
	l.lock()
	defer l.mu.Unlock()
	if t.state.Load() != stateIssued {
		return
	}
	now := l.now()
	l.stats.rateLimited++
	l.act.add(l, now, fieldRateLimited)
	l.onRateLimited(now, now, 0, false, overloaded)
	l.dispatch(now)
}

// canarySucceeded ends the pause because the server admitted the call of
// canary t, and reports whether it did. The canary need not be the current
// one: one that comes back after its timeout (a long generation, a stream)
// still shows the server accepts requests, as long as it was sent during
// this pause and no canary sent after it has been refused since. Requires
// mu.
func (l *BucketRateLimiter) canarySucceeded(t *Ticket, now int64) bool {
	p := &l.p
	if !p.paused || t.issuedAt < p.since || (p.canary != t && t.issuedAt < p.canaryRefused) {
		return false
	}
	why := "canary succeeded"
	if p.canary != t {
		why = fmt.Sprintf("canary succeeded %v after it was sent, past its timeout",
			time.Duration(now-t.issuedAt).Round(time.Millisecond))
	}
	l.resume(now, why)
	return true
}
