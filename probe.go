package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// pauseState is a limiter's pause: after a rate-limit error it issues no
// tickets until a probe finds that the server accepts requests again.
//
// A probe is the service's IsBlocked when the limiter has a service with a
// probe of its own; otherwise it is a canary: exactly one queued request,
// rate-limited retries first, is let through, and its outcome decides.
// Guarded by the limiter's mu.
type pauseState struct {
	paused    bool
	since     int64         // when the pause began
	probeAt   int64         // when the next probe is due
	interval  time.Duration // the current probe interval; grows while blocked
	probing   bool          // an IsBlocked call is running
	useCanary bool          // the service has no probe: use canaries
	armed     bool          // a canary may be issued
	canary    *Ticket       // the canary in flight, if any
	deadline  int64         // when an unanswered canary counts as blocked
	// refusedFrom is the earliest issue time of a ticket refused in this
	// pause, canaries aside, if refused says there is one; lowered
	// records that the pause already lowered the learned limit.
	refusedFrom int64
	refused     bool
	lowered     bool
	// overload says the pause began with an overload (a 529, a 503
	// with a hint): if no rate limit comes in it, it says nothing of
	// the rate, and its resume is no base for a pause soon after. On a
	// shared quota the store says it of the quota's pause, and clears
	// it when a limiter sharing the quota saw a rate limit in it.
	overload bool
	// canaryRefused is when the latest canary the server refused was
	// issued: a canary sent before it that succeeds late is old news.
	canaryRefused int64
	// hintUntil is when the hint of a refusal that came while a probe
	// ran or a canary was out ends: the next probe, should this one
	// find the server still blocked, comes no sooner.
	hintUntil int64
}

// mayIssueCanary reports whether a queued ticket may go out as a canary.
func (p *pauseState) mayIssueCanary() bool { return p.armed && p.canary == nil }

// canaryIssued records that a canary went out at now.
func (p *pauseState) canaryIssued(t *Ticket, now int64, timeout time.Duration) {
	p.armed = false
	p.canary = t
	p.deadline = after(now, timeout)
}

// canaryLost records that the canary was given back unused: another may go.
func (p *pauseState) canaryLost(now int64) {
	p.canary = nil
	p.deadline = 0
	if p.paused {
		p.armed = true
	}
}

// nextWake returns when the paused limiter next has something to do.
func (p *pauseState) nextWake() int64 {
	switch {
	case p.canary != nil:
		return p.deadline
	case p.armed || p.probing:
		return 0
	}
	return p.probeAt
}

// maxEventDetail bounds the detail of an event, in bytes. A failed
// probe's detail is its error's text, which may hold the whole body the
// server answered (anthropic-sdk-go's errors do): whole, it would make the
// minute's record too long to read back (see maxLogLine), and grow the
// log by that body at every probe.
const maxEventDetail = 4 << 10

// event records a pause, probe or resume in the minute log and says it
// through the logger, its detail cut to maxEventDetail bytes.
func (l *BucketRateLimiter) event(now int64, kind, detail string) {
	detail = cutDetail(detail)
	l.act.event(l, now, kind, detail)
	l.logger.Info("ratellmiter: "+kind, "limiter", l.name, "detail", detail)
}

// cutDetail returns s cut to maxEventDetail bytes, at the start of a
// character, with "…" to say it was cut.
func cutDetail(s string) string {
	if len(s) <= maxEventDetail {
		return s
	}
	i := maxEventDetail
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// onRateLimited handles a rate-limit error reported at now, with the
// server's hint, on a ticket issued at issued. The first one pauses the
// limiter; a failed canary backs the probe off; a straggler (a ticket issued
// before the pause) can only push the probe later, to honour a longer hint.
// A straggler whose answer comes after the pause has ended is old news: the
// probe found the server accepting requests since, so it neither pauses the
// limiter again nor teaches anything. An overloaded server's refusal pauses
// the limiter in the same way but teaches it nothing about its limit: the
// server's load, not the caller's rate, caused it. A closed limiter does
// not pause. Requires mu.
func (l *BucketRateLimiter) onRateLimited(now, issued int64, hint time.Duration, canary, overloaded bool) {
	p := &l.p
	hint = max(hint, 0)
	if l.err != nil || (!p.paused && issued < l.lim.lastResume) {
		return // closed, or a straggler
	}
	if !canary && !overloaded && (!p.refused || issued < p.refusedFrom) {
		p.refusedFrom, p.refused = issued, true
	}
	switch {
	case !p.paused:
		wait := hint
		if wait == 0 {
			wait = l.cfg.probeFirst
		}
		// The event goes first: a minute record it opens must start
		// unpaused, the pause beginning now.
		l.event(now, EventPause, fmt.Sprintf("rate limited; probe in %v", wait))
		p.paused, p.since, p.overload = true, now, overloaded
		l.okIssued.Store(0) // only successes during the pause count
		p.interval = l.cfg.probeFirst
		p.probeAt = after(now, wait)
		l.stats.pauses++
		if !overloaded {
			l.learnFromPause(now)
		}
	case canary:
		p.canary = nil
		l.backOff(now, hint, "canary rate limited")
	default:
		at := after(now, hint)
		if p.canary != nil || p.probing {
			// The probe under way decides; its hint, should it find
			// the server blocked, must not end before this one.
			p.hintUntil = max(p.hintUntil, at)
		} else if at > p.probeAt {
			p.probeAt = at
			// A canary that was due but not sent yet waits too.
			p.armed = p.armed && at <= now
		}
	}
	if l.sh != nil {
		l.sh.refused(l, false)
	}
}

// backOff schedules the next probe after a probe found the server still
// blocked: the interval grows by the growth factor up to the maximum, and
// never ends before the server's hint, nor before that of a refusal that
// came while the probe ran. Requires mu.
func (l *BucketRateLimiter) backOff(now int64, hint time.Duration, why string) {
	p := &l.p
	// Compare before converting: past MaxInt64 the conversion wraps.
	if next := float64(p.interval) * l.cfg.probeGrowth; next < float64(l.cfg.probeMax) {
		p.interval = time.Duration(next)
	} else {
		p.interval = l.cfg.probeMax
	}
	wait := max(p.interval, hint, time.Duration(p.hintUntil-now))
	p.probeAt = after(now, wait)
	p.armed = false
	p.deadline = 0
	l.event(now, EventProbe, fmt.Sprintf("%s; next probe in %v", why, wait))
	if l.sh != nil {
		l.sh.refused(l, true)
	}
}

// probeIfDue starts the probe when it is due: a canary is overdue, or the
// probe time has come. Requires mu.
func (l *BucketRateLimiter) probeIfDue(now int64) {
	p := &l.p
	if p.canary != nil {
		if now >= p.deadline {
			// The ticket keeps its canary mark (only its owner
			// touches it); it is no longer the canary that counts.
			p.canary = nil
			l.backOff(now, 0, "canary unanswered")
		}
		return
	}
	if p.armed || p.probing || now < p.probeAt {
		return
	}
	if l.sh != nil && !l.sh.mayProbe() {
		return // another limiter sharing the quota probes
	}
	svc := l.cfg.service
	if svc == nil || p.useCanary {
		p.armed = true
		return
	}
	p.probing = true
	timeout := l.cfg.probeTimeout
	closed := l.closed
	// Once the Monitor is stopping, spawn runs nothing, and Stop ends the
	// pause. Until then the probe counts as running, so that the timer
	// does not fire again for a probe that cannot start. The probe's time
	// stays as it was: a probe lease given back in the final sync tells
	// it to the limiters sharing the quota, which must not find their
	// probe put off for ever.
	l.mon.spawn(func(ctx context.Context) { l.runProbe(ctx, closed, svc, timeout) })
}

// runProbe asks the service whether it is blocked, with a timeout, and acts
// on the answer; closed is closed when the limiter closes. It runs on a
// goroutine owned by the Monitor, whose context ends when the Monitor
// stops; a probe that panics counts as blocked.
func (l *BucketRateLimiter) runProbe(mctx context.Context, closed <-chan struct{}, svc RateLimitedService, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(mctx, timeout)
	defer cancel()
	// Closing the limiter ends its probe too.
	go func() {
		select {
		case <-closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	// A probe cut short by Stop or Close is waited for until it returns,
	// as one that honours its context does at once, so that Stop returns
	// with no probe running; a probe that ignores its context is
	// abandoned at its timeout all the same: it must not hold the pause,
	// or Stop, forever. Its goroutine ends whenever the probe returns.
	answer := make(chan probeAnswer, 1)
	run := &probeRun{svc: svc, name: l.serviceName}
	pctx := context.WithValue(ctx, probeKey{}, run)
	go func() {
		a := l.askProbe(pctx, svc)
		run.over.Store(true)
		answer <- a
	}()
	var a probeAnswer
	select {
	case a = <-answer:
	case <-ctx.Done():
		a = probeAnswer{blocked: true, failed: true, why: fmt.Sprintf(
			"ratellmiter: IsBlocked of the service of %q did not return: %v", l.name, ctx.Err())}
		if deadline, _ := ctx.Deadline(); ctx.Err() == context.Canceled {
			// Its answer, if it comes, is no answer: the probe
			// was told to give up.
			wait := time.NewTimer(time.Until(deadline))
			select {
			case <-answer:
			case <-wait.C:
			}
			wait.Stop()
		}
	}
	run.over.Store(true) // given up on, if it has not returned
	l.lock()
	defer l.mu.Unlock()
	p := &l.p
	p.probing = false
	if l.err != nil || !p.paused || a.failed && mctx.Err() != nil {
		// Closed, resumed, or cut short by Stop, which ends the pause:
		// a probe without an answer is no failed probe, and must not
		// put off the probe of the limiters sharing the quota.
		return
	}
	now := l.now()
	switch {
	case a.unsupported:
		p.useCanary = true
		p.armed = true
		l.event(now, EventProbe, "service has no probe; using a canary request")
	case a.failed:
		l.backOff(now, a.hint, "probe failed: "+a.why)
	case a.blocked:
		l.backOff(now, 0, "service still blocked")
	default:
		l.resume(now, "probe: service accepts requests")
		return
	}
	l.dispatch(now)
}

// probeHint returns the server's hint carried by the error of a failed
// probe, as the limiter's Classifier reads it: a probe that returns the
// error of its call, a 429 that says when to retry, must not be followed
// by the next one before then. A Classifier that panics gives no hint.
func (l *BucketRateLimiter) probeHint(err error) (hint time.Duration) {
	if err == nil {
		return 0
	}
	defer func() {
		if recover() != nil {
			hint = 0
		}
	}()
	switch c := l.cfg.classify(err); c.Kind {
	case KindRateLimited, KindOverloaded:
		return max(c.RetryAfter, 0)
	}
	return 0
}

// askProbe calls svc.IsBlocked for the limiter and reads its answer,
// turning a panic into a failed probe: a panic of IsBlocked, or of the
// error it returned as it is read (the Error or Unwrap method of a nil
// pointer, say). It calls nothing else of svc, which may itself be what
// panics (a nil pointer in an interface).
func (l *BucketRateLimiter) askProbe(ctx context.Context, svc RateLimitedService) (a probeAnswer) {
	defer func() {
		if r := recover(); r != nil {
			a = probeAnswer{blocked: true, failed: true, why: fmt.Sprintf(
				"ratellmiter: IsBlocked of the service of %q panicked: %v", l.name, r)}
		}
	}()
	blocked, err := svc.IsBlocked(ctx)
	switch {
	case err == nil:
		return probeAnswer{blocked: blocked}
	case errors.Is(err, ErrProbeUnsupported):
		return probeAnswer{unsupported: true}
	}
	return probeAnswer{blocked: true, failed: true, why: err.Error(), hint: l.probeHint(err)}
}

// resume ends the pause: the ramp starts again and waiters are served.
// Requires mu.
func (l *BucketRateLimiter) resume(now int64, why string) {
	p := &l.p
	if !p.paused {
		return
	}
	l.stats.pausedNs += now - p.since
	l.learnFromPartial(now)
	// The event goes first: a minute record it opens must start paused.
	l.event(now, EventResume, why)
	l.lim.lastResume = now
	l.lim.overloadResume = p.overload && !p.refused
	useCanary := p.useCanary
	*p = pauseState{useCanary: useCanary}
	l.b.restartRamp(secOf(now))
	if l.sh != nil {
		l.sh.resumed()
	}
	l.dispatch(now)
}

// probeKey marks the context given to IsBlocked, so that a call the probe
// makes through a paused limiter (Do, Acquire, a client on its Transport)
// is sent at once rather than waiting for the pause it is probing to end.
// Its value is the probe's *probeRun.
type probeKey struct{}

// probeRun is one call of IsBlocked of the service svc. Once it is over
// (the probe returned, or was given up on at its timeout), a context
// derived from its own without its cancellation (context.WithoutCancel)
// no longer passes a pause: it would let through every call made with
// it, in every later pause, uncounted and never retried.
type probeRun struct {
	over atomic.Bool
	svc  RateLimitedService
	name string // svc's ServiceName, asked once
}

// inProbe reports whether ctx is, or derives from, the context of a probe
// of svc, named name, still running: a probe passes the pauses of its own
// service's limiters, not those of another service.
func inProbe(ctx context.Context, svc RateLimitedService, name string) bool {
	run, _ := ctx.Value(probeKey{}).(*probeRun)
	return run != nil && !run.over.Load() && sameService(run.svc, svc, run.name, name)
}

// sameService reports whether a and b, named aName and bName, are the same
// service: equal or, for services of a type that == cannot compare (a
// struct holding a map or a func, say), of the same type and name. Such
// a service would otherwise never be its own, and its probe's call
// through its own paused limiter would wait for the pause the probe is
// to end.
func sameService(a, b RateLimitedService, aName, bName string) (same bool) {
	if a == nil || b == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			same = reflect.TypeOf(a) == reflect.TypeOf(b) && aName == bName
		}
	}()
	return a == b
}

// errProbeCall is what RateLimited returns for the ticket of a probe's
// call: the probe's call is sent once, and its refusal is the probe's
// answer.
var errProbeCall = fmt.Errorf("%w: a probe's call is not retried", ErrRateLimited)

// probeTicket returns the ticket of a call a probe makes through a paused
// limiter: issued at once, it belongs to no limiter and counts nowhere.
func probeTicket() *Ticket {
	t := &Ticket{probe: true}
	t.state.Store(stateIssued)
	return t
}

// probeAnswer is what IsBlocked returned, read.
type probeAnswer struct {
	blocked     bool
	unsupported bool          // the service has no probe
	failed      bool          // the probe failed: why says how
	why         string        // the error's text
	hint        time.Duration // the server's hint in the error, if any
}
