package ratellmiter

import (
	"context"
	"fmt"
	"log/slog"
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
	// Done, or whose answer came through the Transport without a
	// refusal, canaries aside, since the last pause began (0 at its
	// start).
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
	if cfg.share != nil {
		// Set before l joins: from then on its Monitor hands it out
		// (Limiters, Stop, the log goroutine), and they read it.
		l.sh = newShared(*cfg.share, l.now())
	}
	if err := m.join(l); err != nil {
		return nil, err
	}
	if l.sh != nil {
		l.mon.spawn(l.syncLoop)
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
	if ctx == nil {
		panic("ratellmiter: Acquire: nil Context")
	}
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
