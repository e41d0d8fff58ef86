package ratellmiter

import "time"

// tryIssue issues t if it can be issued now and reports whether it was.
func (l *BucketRateLimiter) tryIssue(t *Ticket) bool {
	l.lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.refuse(t, now) != nil || l.q.len() > 0 {
		return false
	}
	if l.lim.learned != 0 {
		l.raiseLimit(now)
	}
	// While paused, a due probe lets the ticket go as the canary, as it
	// would let the head of the queue go: a program that only ever calls
	// TryAcquire must see its limiter resume too. The probe is checked
	// here rather than left to the timer, which may not have fired yet.
	if l.p.paused {
		l.probeIfDue(now)
		if l.sh != nil && now >= l.p.probeAt && !l.p.probing && l.p.canary == nil {
			l.sh.triedCanary()
		}
	}
	canary := l.p.paused && l.p.mayIssueCanary()
	if canary && !l.withinLimits(now, t) || !canary && !l.canIssue(now, t) {
		return false
	}
	l.stats.requested++
	l.act.add(l, now, fieldRequested)
	if canary {
		l.issueCanary(t, now)
		// The timer wakes the limiter when the canary times out: it
		// may have been armed for the probe, or not at all.
		l.schedule(now)
	} else {
		l.issue(t, now)
		l.openLane(now)
	}
	return true
}

// canIssue reports whether t may be issued at now, by every budget.
// Requires mu.
func (l *BucketRateLimiter) canIssue(now int64, t *Ticket) bool {
	return !l.p.paused && l.withinLimits(now, t) && (l.sh == nil || l.sh.allow(l, now))
}

// withinLimits reports whether issuing t at now keeps to the limiter's own
// limits: the in-flight cap, the server's hold, the budgets, and the
// bucket's per-second cap, spacing and minute window. Requires mu.
func (l *BucketRateLimiter) withinLimits(now int64, t *Ticket) bool {
	return !l.full() && now >= l.lim.holdUntil && (!l.budgeted || l.bud.fits(now, t)) && l.b.ready(now)
}

// issueCanary issues t at now as the canary of the pause: the one call let
// through to find out whether the server accepts requests again. Requires
// mu; the caller checked the limits.
func (l *BucketRateLimiter) issueCanary(t *Ticket, now int64) {
	l.issue(t, now)
	t.canary = true
	l.p.canaryIssued(t, now, l.cfg.probeTimeout)
	l.event(now, EventProbe, "canary request issued")
}

// issue issues t at now. Requires mu; the caller checked the budgets.
func (l *BucketRateLimiter) issue(t *Ticket, now int64) {
	l.b.take(now)
	if l.budgeted {
		l.bud.charge(now, t, 1)
	}
	if l.sh != nil {
		l.sh.use(now)
	}
	t.state.Store(stateIssued)
	t.issuedAt = now
	l.inFlight++
	l.stats.issued++
	l.act.add(l, now, fieldIssued)
}

// dispatch issues tickets to the head of the queue while the budgets allow,
// then arms the timer for the next moment something can happen.
// Requires mu.
func (l *BucketRateLimiter) dispatch(now int64) {
	for t := l.q.front(); t != nil; t = l.q.front() {
		switch {
		case l.p.paused && l.p.mayIssueCanary():
			// The canary keeps to every limit but the pause.
			if !l.withinLimits(now, t) {
				l.refuseIfNoDailyRoom(now)
				l.schedule(now)
				return
			}
			l.q.pop()
			l.issueCanary(t, now)
			t.ready <- struct{}{}
		case l.canIssue(now, t):
			l.q.pop()
			l.issue(t, now)
			t.ready <- struct{}{}
		default:
			l.refuseIfNoDailyRoom(now)
			l.schedule(now)
			return
		}
	}
	l.schedule(now)
}

// refuseIfNoDailyRoom refuses every waiter, as Acquire refuses a new
// request, when the daily budget has no room within dailyWaitMax of now:
// those in line ran it out while they waited. Requires mu.
func (l *BucketRateLimiter) refuseIfNoDailyRoom(now int64) {
	if !l.budgeted || l.q.len() == 0 {
		return
	}
	if err := l.dailyRefusal(now); err != nil {
		l.dailyRefused = err
		l.refuseWaiters()
	}
}

// schedule arms the timer for the next time the limiter has work: the next
// free ticket slot when someone waits (while paused, only when a canary may
// go), the next probe or canary deadline while paused. A probe lease
// held for a canary nobody is left to send is given back first (see
// dropIdleLease). Requires mu.
func (l *BucketRateLimiter) schedule(now int64) {
	if l.err != nil {
		return
	}
	if l.sh != nil && l.p.paused {
		l.sh.dropIdleLease(l)
	}
	var at int64
	if l.p.paused && !(l.p.mayIssueCanary() && l.q.front() != nil) {
		at = l.p.nextWake()
	} else {
		at = l.headAt(now) // for the head of the queue or the canary
	}
	if l.sh != nil {
		at = l.sh.wakeAt(l, now, at)
	}
	if at == 0 || at == l.timerAt {
		return
	}
	l.timerAt = at
	d := time.Duration(at - now)
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.wake)
		return
	}
	l.timer.Reset(d)
}

// headAt returns the next free slot for the ticket at the head of the
// queue, within the limiter's own limits (the server's hold, its budgets
// and its bucket): 0 when nobody waits, or the in-flight cap holds it
// back (the end of a call dispatches). Requires mu.
func (l *BucketRateLimiter) headAt(now int64) int64 {
	t := l.q.front()
	if t == nil || l.full() {
		return 0
	}
	from := max(now, l.lim.holdUntil)
	if l.budgeted {
		from = max(from, l.bud.when(now, t))
	}
	return l.b.next(from)
}

// wake runs when the timer fires: it starts a due probe and issues what it
// can.
func (l *BucketRateLimiter) wake() {
	l.lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	now := l.now()
	l.timerAt = 0
	if l.p.paused {
		l.probeIfDue(now)
	}
	// Those waiting get the learned limit's clean-minute steps too, not
	// only those who ask for a ticket.
	if l.lim.learned != 0 {
		l.raiseLimit(now)
	}
	l.dispatch(now)
}
