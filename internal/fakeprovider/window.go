package fakeprovider

import "time"

// requestGate enforces the request budget in the configured Window. Its
// reports (remaining, used, reset) are on the per-minute scale the providers'
// headers use, even though enforcement happens over a shorter interval. It is
// not safe for concurrent use.
type requestGate struct {
	mode Window
	rpm  int64

	b *bucket // TokenBucket

	second time.Time // FixedSecond: start of the current wall second
	count  int64     // FixedSecond: requests admitted in that second
}

// newRequestGate returns a gate with a full budget.
func newRequestGate(mode Window, rpm int64, now time.Time) *requestGate {
	g := &requestGate{mode: mode, rpm: rpm}
	if mode == TokenBucket {
		g.b = newRequestBucket(rpm, now)
	}
	return g
}

// advance brings the gate's state up to now.
func (g *requestGate) advance(now time.Time) {
	if g.mode == TokenBucket {
		g.b.refill(now)
		return
	}
	if s := now.Truncate(time.Second); s.After(g.second) {
		g.second, g.count = s, 0
	}
}

// perSecond is the FixedSecond allowance, ceil(rpm/60).
func (g *requestGate) perSecond() int64 { return ceilDiv(g.rpm, 60) }

// wait is how long until one more request may be admitted; 0 means now.
func (g *requestGate) wait(now time.Time) time.Duration {
	g.advance(now)
	if g.mode == TokenBucket {
		return g.b.wait(1)
	}
	if g.count < g.perSecond() {
		return 0
	}
	return g.second.Add(time.Second).Sub(now)
}

// take admits one request; the caller must have seen wait return 0.
func (g *requestGate) take() {
	if g.mode == TokenBucket {
		g.b.take(1)
		return
	}
	g.count++
}

// used is how many requests of the minute's budget are spent.
func (g *requestGate) used() int64 {
	if g.mode == TokenBucket {
		return min(g.b.deficit(), g.rpm)
	}
	return min(g.count, g.rpm)
}

// remaining is how many requests of the minute's budget are left.
func (g *requestGate) remaining() int64 { return g.rpm - g.used() }

// reset is how long until the budget is whole again.
func (g *requestGate) reset(now time.Time) time.Duration {
	if g.mode == TokenBucket {
		return g.b.untilFull()
	}
	if g.count == 0 {
		return 0
	}
	return g.second.Add(time.Second).Sub(now)
}

// setRPM changes the budget, keeping what was already spent.
func (g *requestGate) setRPM(rpm int64, now time.Time) {
	g.advance(now)
	g.rpm = rpm
	if g.mode == TokenBucket {
		g.b.setRate(rpm, requestCapacity(rpm))
	}
}
