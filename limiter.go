// Package ratellmiter paces calls to rate-limited APIs, LLM providers above
// all, so that a program runs as fast as the provider allows and is not
// throttled.
//
// A BucketRateLimiter hands out Tickets: at most ceil(R/60) in any
// one-second bucket and at most R in any sixty such buckets, spread evenly
// across each second instead of released in bursts. After a pause it ramps
// up over a few seconds. A call that is rate limited anyway hands its
// ticket back with the server's retry-after hint: the whole limiter
// pauses, the call waits at the front of the line, and the limiter resumes
// when a probe (the service's IsBlocked, or one canary request) says the
// server accepts requests again.
//
// Do and Wrap run a function under a limiter and retry it when it is rate
// limited. A Monitor owns the goroutines that probe and write the per-minute
// logs; limiters join DefaultMonitor unless told otherwise.
package ratellmiter

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// BucketRateLimiter issues tickets for calls to one rate-limited endpoint
// (one model of one provider, typically) at a configured number of requests
// per minute. Create it with NewBucketRateLimiter; the zero value is not
// usable: it refuses every ticket with an error wrapping ErrClosed. It is
// safe for concurrent use and should be created once and shared by every
// goroutine that calls the endpoint.
type BucketRateLimiter struct {
	name string
	cfg  config
	// serviceName is the ServiceName of cfg.service, asked once, when
	// the limiter is created.
	serviceName string
	closed      chan struct{} // closed by Close and by its Monitor's Stop
	mon         *Monitor
	logger      *slog.Logger
	observer    Observer
	logging     bool
	base        time.Time // the monotonic origin of now()
	baseNs      int64     // base as Unix nanoseconds

	// mu guards everything below. lock takes it and closes the lane;
	// only code that neither counts tickets nor changes a rule (RPM, and
	// observe until it acts) takes mu alone.
	mu       sync.Mutex
	b        bucket
	q        waitQueue
	timer    *time.Timer // wakes the limiter at timerAt; nil until first needed
	timerAt  int64       // when timer fires; 0 when it is not armed
	p        pauseState
	lim      limitState
	inFlight int   // issued and not finished, except by Done's lock-free path: see flying
	err      error // ErrStopped or ErrClosed once the limiter refuses tickets
	act      activity
	stats    counters
	bud      budgets
	budgeted bool    // bud has a budget; set once, at creation
	sh       *shared // the quota shared WithStore; nil without a store
	// dailyRefused is the QuotaError of the waiters last refused because
	// the daily budget ran out while they waited.
	dailyRefused error

	// doneFast counts the tickets finished by Done without taking mu:
	// inFlight still counts them and stats.finished does not yet. flying
	// and finished read the true totals with a single atomic load, so a
	// snapshot taken under mu stays consistent.
	doneFast atomic.Uint64
	// okIssued is the latest issue time of a ticket that finished with
	// Done, canaries aside, since the last pause began (0 at its start).
	// If it passes the issue time of a refused ticket during a pause, the
	// server admitted part of the traffic: the rate is too high (see
	// learnFromPartial).
	okIssued atomic.Int64
	// lane is the open lane, if any: see lane.
	lane atomic.Pointer[lane]
}

// noteOK records that a ticket issued at issued finished well. It keeps
// okIssued to the millisecond, the precision learning needs, so that Done
// on many goroutines writes the shared word at most once a millisecond; two
// racing writers may leave the earlier of their times, which the next
// ticket corrects.
func (l *BucketRateLimiter) noteOK(issued int64) {
	if issued-l.okIssued.Load() >= int64(time.Millisecond) {
		l.okIssued.Store(issued)
	}
}

// flying returns the number of tickets issued and not finished.
// Requires mu.
func (l *BucketRateLimiter) flying() int {
	return l.inFlight - int(l.doneFast.Load())
}

// full reports whether the WithMaxInFlight cap is reached. Requires mu.
func (l *BucketRateLimiter) full() bool {
	return l.cfg.maxInFlight > 0 && l.flying() >= l.cfg.maxInFlight
}

// counters are the totals behind Stats. Guarded by mu.
type counters struct {
	requested, issued, finished, cancelled, rateLimited, overflow uint64
	pauses                                                        uint64
	pausedNs                                                      int64
}

// maxRPM is the highest limit a limiter takes: one ticket a nanosecond,
// the resolution of its time line. Above it, ceil(rpm/60) and the ticket
// gap overflow.
const maxRPM = 60 * int64(time.Second)

// NewBucketRateLimiter returns a limiter that issues at most
// requestsPerMinute tickets in any sixty consecutive one-second buckets and
// at most ceil(requestsPerMinute/60) in any one of them. It joins
// DefaultMonitor, or the Monitor given with WithMonitor, starting it if
// needed.
func NewBucketRateLimiter(requestsPerMinute int, opts ...Option) (*BucketRateLimiter, error) {
	if requestsPerMinute <= 0 || int64(requestsPerMinute) > maxRPM {
		return nil, fmt.Errorf("ratellmiter: requests per minute %d: must be in [1, %d]", requestsPerMinute, maxRPM)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyLimiter(&cfg); err != nil {
			return nil, err
		}
	}
	m := cfg.monitor
	if m == nil {
		m = DefaultMonitor()
	}
	base := time.Now()
	l := &BucketRateLimiter{
		name:   cfg.name,
		cfg:    cfg,
		mon:    m,
		base:   base,
		baseNs: base.UnixNano(),
		b:      newBucket(requestsPerMinute, cfg.rampStart, cfg.rampStep, cfg.idleRamp),
		lim:    limitState{configured: requestsPerMinute},
		closed: make(chan struct{}),
		bud:    cfg.budgets(),
	}
	if cfg.service != nil {
		l.serviceName = cfg.service.ServiceName()
	}
	l.budgeted = l.bud.any()
	l.logger = cfg.logger
	if l.logger == nil {
		l.logger = m.logger()
	}
	l.observer = cfg.observer
	if l.observer == nil {
		l.observer = m.cfg.observer
	}
	l.logging = m.logsEnabled()
	if err := m.join(l); err != nil {
		return nil, err
	}
	if cfg.share != nil {
		l.startSharing(cfg.share)
	}
	return l, nil
}

// Name returns the limiter's name, as given with WithName; see WithName
// for the names of limiters created without one.
func (l *BucketRateLimiter) Name() string { return l.name }

// RPM returns the requests per minute the limiter works at now: the
// configured limit, or less when the server reported or the limiter
// learned a lower one.
func (l *BucketRateLimiter) RPM() int {
	// The lane has no say in the rate: it can stay open, unless the
	// clean minutes of an idle spell raise a learned limit.
	l.mu.Lock()
	if l.lim.learned == 0 {
		defer l.mu.Unlock()
		return l.b.rpm
	}
	l.mu.Unlock()
	l.lock()
	defer l.mu.Unlock()
	if l.lim.learned != 0 {
		l.raiseLimit(l.now())
	}
	return l.b.rpm
}

// now returns the limiter's time: Unix nanoseconds at creation plus the
// monotonic time elapsed since, so that a jump of the wall clock moves no
// bucket.
func (l *BucketRateLimiter) now() int64 {
	return l.baseNs + int64(time.Since(l.base))
}

// timeOf converts a time of the limiter's time line to a time.Time.
func (l *BucketRateLimiter) timeOf(ns int64) time.Time {
	return l.base.Add(time.Duration(ns - l.baseNs))
}

// Acquire returns an issued ticket: at once if the limiter may issue one
// now and nobody is waiting, otherwise after waiting in line. Rate-limited
// retries are served first, then new requests in the order they asked.
//
// If ctx ends first, Acquire returns ctx.Err() and no ticket is taken. If
// ctx's deadline (or WithMaxWait) is sooner than the earliest time a ticket
// could be issued, Acquire fails at once with an error wrapping
// ErrWouldExceedDeadline instead of waiting in vain (see
// ErrWouldExceedDeadline for what that moment counts). Once the limiter is
// closed or its Monitor stopped, Acquire returns ErrClosed or ErrStopped.
//
// While the limiter is paused, a call made by a probe of the limiter's
// service while it runs, with the context IsBlocked was given, gets its
// ticket at once: the probe asks
// the server itself. That ticket counts in no statistic, and RateLimited
// on it returns an error wrapping ErrRateLimited at once, since the
// refusal is the probe's answer.
//
// The caller must report on the ticket with Done, Abandon or RateLimited.
func (l *BucketRateLimiter) Acquire(ctx context.Context, opts ...AcquireOption) (*Ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The allocation and the clock read happen before taking the lock, to
	// keep the critical section short when many goroutines contend.
	t := &Ticket{l: l}
	if len(opts) > 0 {
		if err := l.applyAcquireOptions(t, opts); err != nil {
			return nil, err
		}
	}
	if l.tryLane(t) {
		l.observeAtOnce(t)
		return t, nil
	}
	now := l.now()
	l.lock()
	if err := l.refuse(t, now); err != nil {
		l.mu.Unlock()
		return nil, err
	}
	// Another goroutine may have issued a ticket, or ended a pause, at a
	// later time while this one waited for the lock: never go back before
	// it. A ticket dated before the resume would count as a straggler of
	// the pause, and the server's 429 on it would be ignored.
	now = max(now, l.b.last, l.lim.lastResume)
	if l.p.paused && inProbe(ctx, l.cfg.service, l.serviceName) {
		// The probe asks the server through the limiter it probes:
		// waiting for the pause to end would hold it for ever.
		l.mu.Unlock()
		return probeTicket(), nil
	}
	if l.lim.learned != 0 {
		l.raiseLimit(now)
	}
	l.stats.requested++
	l.act.add(l, now, fieldRequested)
	if l.q.len() == 0 && l.canIssue(now, t) {
		l.issue(t, now)
		l.openLane(now)
		l.mu.Unlock()
		l.observeAtOnce(t)
		return t, nil
	}
	// The caller waits: read the clock again, so that a long wait for the
	// lock does not arm the timer late by as much.
	now = max(now, l.now())
	if err := l.tooLate(ctx, now, t, l.q.len()); err != nil {
		l.stats.cancelled++
		l.mu.Unlock()
		return nil, err
	}
	l.stats.overflow++
	l.act.add(l, now, fieldOverflow)
	t.ready = make(chan struct{}, 1)
	l.q.pushBack(t)
	l.dispatch(now)
	l.mu.Unlock()
	if err := l.wait(ctx, t); err != nil {
		return nil, err
	}
	l.observeWait(t, now, false)
	return t, nil
}

// TryAcquire returns an issued ticket if one can be issued right now
// without waiting (and nobody is waiting before the caller), or false. It
// never blocks. While the limiter is paused it returns false, except when
// a probe is due and no Service probes for the limiter: the ticket then
// goes out as the pause's canary, and its Done (or RateLimited) says
// whether the limiter resumes. It returns false, too, where Acquire
// would fail rather than wait: the limiter is closed, or its shared store
// failed with FailClosed; the day's requests are used up (by
// WithRequestsPerDay, or as the server reports); or the options ask for
// invalid token counts or more tokens than a minute's budget. Acquire
// with the same options returns the error that says which.
func (l *BucketRateLimiter) TryAcquire(opts ...AcquireOption) (*Ticket, bool) {
	t := &Ticket{l: l}
	if len(opts) > 0 && l.applyAcquireOptions(t, opts) != nil {
		return nil, false
	}
	if !l.tryLane(t) && !l.tryIssue(t) {
		return nil, false
	}
	l.observeAtOnce(t)
	return t, true
}

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
	if now := l.now(); l.err == nil && now < l.lim.spentUntil {
		return l.spentRefusal(now)
	}
	if !l.refusing() && l.dailyRefused != nil {
		return l.dailyRefused
	}
	return l.refused()
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
// go), the next probe or canary deadline while paused. Requires mu.
func (l *BucketRateLimiter) schedule(now int64) {
	if l.err != nil {
		return
	}
	at := int64(0)
	t := l.q.front()
	switch {
	case l.p.paused && !(l.p.mayIssueCanary() && t != nil):
		at = l.p.nextWake()
	case t != nil && !l.full():
		// The next free slot, for the head of the queue or the canary.
		from := max(now, l.lim.holdUntil)
		if l.budgeted {
			from = max(from, l.bud.when(now, t))
		}
		at = l.b.next(from)
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

// Close makes the limiter refuse new tickets with ErrClosed, wakes every
// waiter with ErrClosed, and takes it off its Monitor. Tickets already
// issued may still be finished. A limiter sharing a quota (WithStore) then
// tells the store what it has not told yet, on a goroutine of its Monitor,
// after Close returns; Monitor.Stop waits for it. Close is safe to call
// more than once.
func (l *BucketRateLimiter) Close() error {
	if l.closed == nil {
		return nil // a zero value: nothing to close
	}
	l.shutdown(ErrClosed)
	l.mon.leave(l)
	return nil
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
