package ratellmiter

import (
	"context"
	"fmt"
	"math"
	"time"
)

// tooLate returns an error if the earliest time t could be issued, with
// ahead tickets queued before it, is after ctx's deadline or the
// WithMaxWait bound. The estimate is a lower bound for the line as it
// is: it counts every ticket queued ahead, so a caller may be refused
// whose wait would have fitted had some of those given up later.
// Requires mu.
func (l *BucketRateLimiter) tooLate(ctx context.Context, now int64, t *Ticket, ahead int) error {
	limit, why := int64(math.MaxInt64), ""
	if d, ok := ctx.Deadline(); ok {
		limit, why = after(now, time.Until(d)), "context deadline"
	}
	if mw := l.cfg.maxWait; mw > 0 && after(now, mw) < limit {
		limit, why = after(now, mw), "WithMaxWait"
	}
	if limit == math.MaxInt64 {
		return nil // no bound, or none within reach
	}
	est := l.earliest(now, t, ahead)
	if est <= limit {
		return nil
	}
	return fmt.Errorf("%w: earliest ticket in %v, %s in %v", ErrWouldExceedDeadline,
		time.Duration(est-now).Round(time.Millisecond), why, time.Duration(limit-now).Round(time.Millisecond))
}

// earliest returns a lower bound of when t, queued now behind ahead
// tickets, could be issued: the next free slot, plus the least spacing for
// those ahead; while paused, no earlier than the next probe; no earlier
// than the end of the server's hold or than the budgets allow it and those
// ahead (see whenAhead). Requires mu.
func (l *BucketRateLimiter) earliest(now int64, t *Ticket, ahead int) int64 {
	from := max(now, l.lim.holdUntil)
	if l.p.paused && l.p.probeAt > from {
		from = l.p.probeAt
	}
	// Saturate: a probe put off for ages must not wrap into the past.
	est := after(l.b.next(from), time.Duration(int64(ahead)*l.b.gap))
	if l.budgeted {
		// The budgets hold t until they fit it and those ahead; the
		// spacing of those ahead runs meanwhile.
		est = max(est, l.b.next(max(from, l.bud.whenAhead(now, &l.q, ahead, l.flying(), t))))
	}
	return est
}

// wait blocks until the queued ticket t is issued or refused, or ctx ends.
// A ticket issued while its waiter was giving up is given back, so no
// ticket is lost or counted twice.
func (l *BucketRateLimiter) wait(ctx context.Context, t *Ticket) error {
	var maxWait <-chan time.Time
	if l.cfg.maxWait > 0 {
		tm := time.NewTimer(l.cfg.maxWait)
		defer tm.Stop()
		maxWait = tm.C
	}
	var cause error
	select {
	case <-t.ready:
		l.lock()
		defer l.mu.Unlock()
		if t.state.Load() == stateIssued {
			return nil
		}
		return l.waiterRefusal()
	case <-ctx.Done():
		cause = ctx.Err()
	case <-maxWait:
		cause = fmt.Errorf("%w: waited WithMaxWait %v", ErrWouldExceedDeadline, l.cfg.maxWait)
	}
	l.lock()
	defer l.mu.Unlock()
	switch t.state.Load() {
	case stateIssued:
		// Issued as we gave up: give it back.
		l.giveBack(t)
	case stateWaiting:
		l.q.remove(t)
		t.state.Store(stateCancelled)
		l.stats.cancelled++
		l.dispatch(l.now())
	default:
		// Refused as we gave up: the refusal says why.
		return l.waiterRefusal()
	}
	return cause
}

// waiterRefusal returns why a waiter's ticket was refused: the limiter is
// closed or stopped, its shared store failed, the server said its request
// budget of a longer window is used up, or the daily budget ran out.
// Requires mu.
func (l *BucketRateLimiter) waiterRefusal() error {
	now := l.now()
	if l.err == nil && now < l.lim.spentUntil {
		return l.spentRefusal(now)
	}
	if !l.refusing() && l.dailyRefused != nil {
		return l.dailyRefused
	}
	if err := l.refused(); err != nil {
		return err
	}
	// Refused for the server's spent budget of a longer window, which
	// ended before the waiter woke (the machine slept through it, say):
	// the refusal stands, with the reset it named.
	return l.spentRefusal(min(now, l.lim.spentUntil))
}

// giveBack returns an issued ticket whose caller will not use it: the
// capacity it held is refunded. Requires mu.
func (l *BucketRateLimiter) giveBack(t *Ticket) {
	now := l.now()
	t.state.Store(stateCancelled)
	l.inFlight--
	l.stats.cancelled++
	l.stats.issued--
	l.act.unissue(l, t.issuedAt)
	l.b.refund(t.issuedAt)
	if l.budgeted {
		l.bud.charge(now, t, -1)
	}
	if l.sh != nil {
		l.sh.refund(t.issuedAt)
	}
	if t.canary {
		t.canary = false
		if l.p.canary == t {
			l.p.canaryLost(now)
		}
	}
	l.dispatch(now)
}
