package ratellmiter

import (
	"fmt"
	"math"
	"time"
)

// Budgets beyond requests per minute: tokens per minute (combined, input
// and output, as OpenAI and Anthropic enforce them) and requests per day.
// Each is a budget that refills continuously, as the providers document
// theirs: limit units per period, starting full.
//
// A token budget banks at most one second's worth (limit/60) unless
// WithTokenBurst sets a longer span, so tokens are spread across the
// minute as requests are, instead of a minute's worth going out in the
// first second: a provider that enforces its limit over shorter periods
// than a minute (they all may) never sees a burst. A call larger than what
// the budget banks is admitted when the budget is full, and the budget goes
// into debt that later calls wait out. The daily
// budget banks the whole day.
//
// A ticket is charged its estimate when it is issued, and the charge is
// corrected when the call reports what it really used (Ticket.Used); a
// rate-limited or given-back ticket is refunded.

const (
	minuteNs = 60 * nsPerSec
	dayNs    = 24 * 60 * minuteNs
	// dailyWaitMax is the longest a request waits for the daily budget;
	// beyond it Acquire fails at once with a QuotaError.
	dailyWaitMax = minuteNs
)

// refill is one continuously refilling budget. The zero value is no
// budget: it admits everything.
type refill struct {
	limit float64 // units per period; 0: no budget
	per   float64 // the period, in ns
	cap   float64 // the most that can be banked
	level float64 // units available at last; negative while in debt
	last  int64
}

// newRefill returns a full budget of limit units per period that banks at
// most capacity units.
func newRefill(limit int, per int64, capacity float64) refill {
	return refill{limit: float64(limit), per: float64(per), cap: capacity, level: capacity}
}

// on reports whether the budget limits anything.
func (r *refill) on() bool { return r.limit > 0 }

// at brings the level up to now.
func (r *refill) at(now int64) {
	if now > r.last {
		r.level = min(r.cap, r.level+float64(now-r.last)*r.limit/r.per)
		r.last = now
	}
}

// need returns the level at which n units may be taken: n, or a full
// budget for a call larger than the budget banks.
func (r *refill) need(n int64) float64 { return min(float64(n), r.cap) }

// fits reports whether n units may be taken at now.
func (r *refill) fits(now int64, n int64) bool {
	if !r.on() || n <= 0 {
		return true
	}
	r.at(now)
	return r.level >= r.need(n)
}

// when returns the earliest time at or after now when n units may be
// taken.
func (r *refill) when(now int64, n int64) int64 { return r.whenAfter(now, 0, n) }

// whenAfter returns the earliest time at or after now when n units may
// be taken once charged units have been taken before them, the budget
// refilling meanwhile.
func (r *refill) whenAfter(now int64, charged, n int64) int64 {
	if !r.on() || n <= 0 {
		return now
	}
	r.at(now)
	short := r.need(n) + float64(charged) - r.level
	if short <= 0 {
		return now
	}
	// Saturate: a debt that takes past the end of the time line to
	// refill must not wrap into the past.
	wait := math.Ceil(short * r.per / r.limit)
	if wait >= math.MaxInt64 {
		return math.MaxInt64
	}
	return after(now, time.Duration(wait))
}

// charge takes n units (a negative n gives units back) at now.
func (r *refill) charge(now int64, n int64) {
	if !r.on() || n == 0 {
		return
	}
	r.at(now)
	r.level = min(r.cap, r.level-float64(n))
}

// budgets are a limiter's budgets beyond requests per minute. Guarded by
// the limiter's mu.
type budgets struct {
	tokens, input, output refill // per minute
	daily                 refill // requests per day
}

// any reports whether any budget is set.
func (b *budgets) any() bool {
	return b.tokens.on() || b.input.on() || b.output.on() || b.daily.on()
}

// tokensOn reports whether a token budget is set.
func (b *budgets) tokensOn() bool { return b.tokens.on() || b.input.on() || b.output.on() }

// fits reports whether t's charge fits every budget at now.
func (b *budgets) fits(now int64, t *Ticket) bool {
	in, out := int64(t.in), int64(t.out)
	return b.tokens.fits(now, in+out) && b.input.fits(now, in) && b.output.fits(now, out) &&
		b.daily.fits(now, 1)
}

// when returns the earliest time at or after now when t's charge fits.
func (b *budgets) when(now int64, t *Ticket) int64 {
	in, out := int64(t.in), int64(t.out)
	return max(b.tokens.when(now, in+out), b.input.when(now, in), b.output.when(now, out), b.daily.when(now, 1))
}

// maxAheadWalk bounds how many of the tickets queued ahead whenAhead
// looks at, so that a long queue costs each Acquire with a deadline no
// more than that; the bound it returns stays a lower one.
const maxAheadWalk = 64

// whenAhead returns a lower bound of when t's charge fits, queued behind
// the first ahead tickets of q with flying calls in flight. Those ahead go
// first, so t goes no sooner than the budgets fit each of them. Their
// token charges are not added up: a call's usage may give its estimate
// back as soon as it is issued, and for the same reason the token budgets
// count only while no call is in flight. Each request ahead takes one
// from the daily budget, which gives back only the request of a call
// rate limited, as those in flight may be. Requires mu.
func (b *budgets) whenAhead(now int64, q *waitQueue, ahead, flying int, t *Ticket) int64 {
	at := b.daily.whenAfter(now, int64(max(0, ahead-flying)), 1)
	if flying > 0 || !b.tokensOn() {
		return at
	}
	fits := func(u *Ticket) int64 {
		in, out := int64(u.in), int64(u.out)
		return max(b.tokens.when(now, in+out), b.input.when(now, in), b.output.when(now, out))
	}
	u := q.front()
	for i := 0; i < min(ahead, maxAheadWalk) && u != nil; i++ {
		at = max(at, fits(u))
		u = u.next
	}
	return max(at, fits(t))
}

// charge charges (sign 1) or refunds (sign -1) t's estimate at now.
func (b *budgets) charge(now int64, t *Ticket, sign int64) {
	in, out := sign*int64(t.in), sign*int64(t.out)
	b.tokens.charge(now, in+out)
	b.input.charge(now, in)
	b.output.charge(now, out)
	b.daily.charge(now, sign)
}

// check returns an error if a request of in and out tokens can never be
// admitted: it needs more than a whole minute's budget.
func (b *budgets) check(in, out int64) error {
	for _, c := range [...]struct {
		r    *refill
		n    int64
		name string
	}{{&b.tokens, in + out, "tokens"}, {&b.input, in, "input tokens"}, {&b.output, out, "output tokens"}} {
		if c.r.on() && float64(c.n) > c.r.limit {
			return fmt.Errorf("%w: the request needs %d %s, more than the budget of %d per minute",
				ErrExceedsBudget, c.n, c.name, int64(c.r.limit))
		}
	}
	return nil
}

// dailyRefusal returns a QuotaError if the daily budget will not have room
// for one more request within dailyWaitMax of now. Requires mu.
func (l *BucketRateLimiter) dailyRefusal(now int64) error {
	d := &l.bud.daily
	if !d.on() {
		return nil
	}
	at := d.when(now, 1)
	if at-now <= dailyWaitMax {
		return nil
	}
	return l.usedUpUntil(now, at, fmt.Sprintf("%d requests per day (WithRequestsPerDay) used up; next request", int64(d.limit)))
}

// usedUpUntil returns the QuotaError of a quota used up until at: what
// names the quota, and the error says in how long and when it has room.
func (l *BucketRateLimiter) usedUpUntil(now, at int64, what string) *QuotaError {
	reset := l.timeOf(at)
	return &QuotaError{
		Quota: fmt.Sprintf("%s in %v, at %s", what, time.Duration(at-now).Round(time.Second), reset.UTC().Format(time.RFC3339)),
		Reset: reset,
	}
}

// An AcquireOption describes the call a ticket is for.
type AcquireOption interface {
	applyAcquire(*acquireConfig) error
}

type acquireConfig struct {
	in, out int64
	// bound is the part of in that is a bound rather than a count: the
	// most that a request's images of unknown size, its PDFs and its
	// audio and video of unknown length may cost, or what a file given
	// by reference was guessed or learned to cost.
	bound int64
	// outBound is the part of out that is a guess rather than a cap: the
	// mean output a request without a cap was charged.
	outBound int64
}

type acquireOption func(*acquireConfig) error

func (f acquireOption) applyAcquire(c *acquireConfig) error { return f(c) }

// WithTokens tells Acquire how many tokens the call is expected to use:
// input (the prompt: about one token per four characters of text) and
// output (the max_tokens cap). The ticket is charged against the
// limiter's token budgets (WithTokensPerMinute, WithInputTokensPerMinute,
// WithOutputTokensPerMinute) and is issued only when they allow it; report
// the real usage with Ticket.Used. Without it a ticket costs no tokens.
// Each count must be in [0, math.MaxInt32].
func WithTokens(input, output int) AcquireOption {
	return acquireOption(func(c *acquireConfig) error {
		if input < 0 || output < 0 || int64(input) > math.MaxInt32 || int64(output) > math.MaxInt32 {
			return fmt.Errorf("ratellmiter: WithTokens(%d, %d): token counts must be in [0, %d]", input, output, math.MaxInt32)
		}
		c.in, c.out = int64(input), int64(output)
		return nil
	})
}

// applyAcquireOptions sets t's token charge from opts. Called before mu:
// the budgets' limits are fixed when the limiter is created.
func (l *BucketRateLimiter) applyAcquireOptions(t *Ticket, opts []AcquireOption) error {
	var c acquireConfig
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyAcquire(&c); err != nil {
			return err
		}
	}
	in, out := l.bud.fit(c.in, c.out, c.bound, c.outBound)
	t.in, t.out = clamp32(in), clamp32(out)
	return nil
}

// fit returns the charge of in input and out output tokens, each lowered
// by at most the part of it that is only a bound or a guess (bound of the
// input, outBound of the output; the output first) so that the charge
// fits in a minute of each token budget: a request is refused as too large
// (check) for what it is known to need, not for what it might.
func (b *budgets) fit(in, out, bound, outBound int64) (int64, int64) {
	least := in - min(max(bound, 0), in)
	leastOut := out - min(max(outBound, 0), out)
	if b.output.on() && float64(out) > b.output.limit {
		out = max(leastOut, int64(b.output.limit))
	}
	if b.tokens.on() && float64(in+out) > b.tokens.limit {
		out = max(leastOut, int64(b.tokens.limit)-in)
	}
	if b.tokens.on() && float64(in+out) > b.tokens.limit {
		in = max(least, int64(b.tokens.limit)-out)
	}
	if b.input.on() && float64(in) > b.input.limit {
		in = max(least, int64(b.input.limit))
	}
	return in, out
}

func clamp32(n int64) int32 { return int32(min(n, math.MaxInt32)) }

// Used reports the tokens the ticket's call really used, as the response's
// usage says: the token budgets are corrected by the difference from the
// estimate given with WithTokens (a call that used less gives the rest
// back; one that used more is charged the excess). Call it before or
// after Done, before where you can: once the call is done, Acquire's
// deadline check (ErrWouldExceedDeadline) takes its charge as final, and
// may refuse a call that the tokens given back later would have let
// through. Calling it again replaces the earlier report. It does
// nothing on a ticket that was given up, or when the limiter has no token
// budget. A count above a minute of a token budget is charged as a minute
// of it: the provider refuses a call larger than its limit, as Acquire
// does (ErrExceedsBudget), so such a count is wrong (a broken proxy, a
// server counting bytes), and charged whole it would hold every later call
// for as many minutes as it holds minutes of budget. Report the usage of the answer that ends the call: a report
// made before RateLimited becomes what the retry is charged, in place of
// the estimate.
func (t *Ticket) Used(input, output int) {
	// Without a token budget there is nothing to correct, and no reason
	// to take the lock (the budgets are set once, at creation).
	if t == nil || t.l == nil || !t.l.budgeted || !t.l.bud.tokensOn() {
		return
	}
	l := t.l
	l.lock()
	defer l.mu.Unlock()
	if s := t.state.Load(); s != stateIssued && s != stateDone {
		return
	}
	// Each count is bounded first as a ticket holds it, so that their sum
	// cannot overflow.
	in64, out64 := l.bud.fit(int64(clamp32(max(int64(input), 0))), int64(clamp32(max(int64(output), 0))), math.MaxInt64, math.MaxInt64)
	in, out := clamp32(in64), clamp32(out64)
	now := l.now()
	di, do := int64(in)-int64(t.in), int64(out)-int64(t.out)
	l.bud.tokens.charge(now, di+do)
	l.bud.input.charge(now, di)
	l.bud.output.charge(now, do)
	t.in, t.out = in, out
	if di < 0 || do < 0 {
		// Some budget got tokens back (the input one, say, even if the
		// output one was charged as much): a waiter may fit now.
		l.dispatch(now)
	}
}
