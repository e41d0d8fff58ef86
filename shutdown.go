package ratellmiter

import (
	"context"
	"fmt"
)

// errNotCreated refuses the tickets of a limiter not created with
// NewBucketRateLimiter: a zero value would otherwise queue every caller
// for a ticket it can never issue.
var errNotCreated = fmt.Errorf("%w: the BucketRateLimiter was not created with NewBucketRateLimiter", ErrClosed)

// refuse returns why t can never be issued: the limiter is not created,
// closed or stopped, the server said its daily request budget is used
// up, t needs more tokens than a minute's budget, or the daily budget is
// used up for longer than a minute. Requires mu.
func (l *BucketRateLimiter) refuse(t *Ticket, now int64) error {
	if l.closed == nil {
		return errNotCreated
	}
	if l.refusing() {
		return l.refused()
	}
	if now < l.lim.spentUntil {
		return l.spentRefusal(now)
	}
	if !l.budgeted {
		return nil
	}
	if err := l.bud.check(int64(t.in), int64(t.out)); err != nil {
		return err
	}
	return l.dailyRefusal(now)
}

// refuseWaiters wakes every waiter with a refusal: each finds its ticket
// cancelled and returns the limiter's error. Requires mu.
func (l *BucketRateLimiter) refuseWaiters() {
	for t := l.q.pop(); t != nil; t = l.q.pop() {
		t.state.Store(stateCancelled)
		l.stats.cancelled++
		t.ready <- struct{}{}
	}
}

// refusing reports whether the limiter refuses every ticket: it is
// closed or stopped, or its shared store failed closed. Requires mu.
func (l *BucketRateLimiter) refusing() bool {
	return l.err != nil || l.sh != nil && l.sh.err != nil
}

// refusal returns why a ticket may not wait any more: the limiter's or the
// shared store's error, or ctx's. Requires mu.
func (l *BucketRateLimiter) refusal(ctx context.Context) error {
	if l.refusing() {
		return l.refused()
	}
	return ctx.Err()
}

// shutdown refuses every waiter with err, stops the timer and ends the
// pause in progress, if any. It hands the minute log in progress, if any,
// to the Monitor before it lets go of the limiter: a Stop that finds the
// limiter shut down finds its last minute pending.
func (l *BucketRateLimiter) shutdown(err error) {
	l.lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	l.err = err
	close(l.closed)
	if l.timer != nil {
		l.timer.Stop()
	}
	l.refuseWaiters()
	if l.sh != nil {
		l.sh.poke() // the sync loop sees the limiter closed and ends
	}
	now := l.now()
	l.mon.enqueue(l.act.take(l, now, true))
	if l.p.paused {
		// No probe or canary may resume a closed limiter: its pause
		// ends here, and its time paused with it. A probe lease it
		// holds on a shared quota goes back with the final sync.
		if l.sh != nil {
			l.sh.releaseProbe(l)
		}
		l.stats.pausedNs += now - l.p.since
		l.p = pauseState{useCanary: l.p.useCanary}
	}
}
