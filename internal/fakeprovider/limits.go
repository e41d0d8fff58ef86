package fakeprovider

import (
	"math"
	"time"
)

// budgetKind names one of the budgets a request is charged against.
type budgetKind int

const (
	budgetRequests budgetKind = iota
	budgetTokens
	budgetInput
	budgetOutput
)

// verdict is the outcome of charging one request.
type verdict struct {
	ok        bool
	refusedBy budgetKind    // the budget that refused, when !ok
	wait      time.Duration // until every budget could admit the request
	tooLarge  bool          // the request can never fit refusedBy
	limit     int64         // per-minute limit of refusedBy
	used      int64         // spent part of refusedBy
	requested int64         // what the request asked of refusedBy
}

// budgetState is what a response header reports about one budget.
type budgetState struct {
	limit     int64
	remaining int64
	reset     time.Duration
}

// snapshot is the state of every enabled budget; token entries are nil when
// the budget is off.
type snapshot struct {
	requests              budgetState
	tokens, input, output *budgetState
}

// limits holds every budget of a server. It is not safe for concurrent use.
type limits struct {
	gate                  *requestGate
	tokens, input, output *bucket // nil when off
}

// newLimits builds full budgets from cfg.
func newLimits(cfg Config, now time.Time) *limits {
	l := &limits{gate: newRequestGate(cfg.Window, int64(cfg.RPM), now)}
	mk := func(perMinute int) *bucket {
		if perMinute == 0 {
			return nil
		}
		return newBucket(int64(perMinute), int64(perMinute), now)
	}
	l.tokens, l.input, l.output = mk(cfg.TPM), mk(cfg.InputTPM), mk(cfg.OutputTPM)
	return l
}

// admit charges one request estimated at in input and out output tokens if
// every budget can take it, and otherwise charges nothing.
func (l *limits) admit(now time.Time, in, out int64) verdict {
	v := verdict{ok: true}
	if w := l.gate.wait(now); w > 0 {
		v = verdict{refusedBy: budgetRequests, wait: w, limit: l.gate.rpm, used: l.gate.used(), requested: 1}
	}
	checks := []struct {
		kind budgetKind
		b    *bucket
		n    int64
	}{{budgetTokens, l.tokens, min(in, math.MaxInt64-out) + out}, {budgetInput, l.input, in}, {budgetOutput, l.output, out}}
	for _, c := range checks {
		if c.b == nil {
			continue
		}
		c.b.refill(now)
		if !c.b.fits(c.n) {
			return verdict{refusedBy: c.kind, tooLarge: true, limit: c.b.perMinute, used: c.b.deficit(), requested: c.n}
		}
		if w := c.b.wait(c.n); w > v.wait {
			v = verdict{refusedBy: c.kind, wait: w, limit: c.b.perMinute, used: c.b.deficit(), requested: c.n}
		}
	}
	if v.wait > 0 {
		return v
	}
	l.gate.take()
	for _, c := range checks {
		if c.b != nil {
			c.b.take(c.n)
		}
	}
	return verdict{ok: true}
}

// settle corrects an admitted request's output estimate to the real count by
// returning the difference to the token budgets.
func (l *limits) settle(now time.Time, estimatedOut, actualOut int64) {
	back := estimatedOut - actualOut
	if back <= 0 {
		return
	}
	for _, b := range []*bucket{l.tokens, l.output} {
		if b != nil {
			b.refill(now)
			b.give(back)
		}
	}
}

// snapshot reports every budget at now.
func (l *limits) snapshot(now time.Time) snapshot {
	l.gate.advance(now)
	s := snapshot{requests: budgetState{limit: l.gate.rpm, remaining: l.gate.remaining(), reset: l.gate.reset(now)}}
	state := func(b *bucket) *budgetState {
		if b == nil {
			return nil
		}
		b.refill(now)
		return &budgetState{limit: b.perMinute, remaining: b.available(), reset: b.untilFull()}
	}
	s.tokens, s.input, s.output = state(l.tokens), state(l.input), state(l.output)
	return s
}
