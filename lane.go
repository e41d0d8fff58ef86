package ratellmiter

import "sync/atomic"

// A lane lets Acquire and TryAcquire issue tickets without taking the
// limiter's mutex, within one second, while nothing but the bucket's
// pacing can hold a ticket back: the limiter is open, unpaused, nobody is
// waiting, and it has no budget, in-flight cap, shared quota, server hold
// or log to keep.
//
// The limiter opens a lane under mu, after issuing a ticket, with the rest
// of that second's allowance. A ticket then takes a slot with one
// compare-and-swap, under the same rule as bucket.take: no sooner than a
// spacing after the previous slot. Whoever takes mu closes the lane first
// and adds what it issued to the bucket and the counters (see
// BucketRateLimiter.lock), so everything under mu sees every ticket, and
// nothing that changes the rules (a pause, a new limit, a waiter, Close)
// can let a ticket through the lane afterwards.
type lane struct {
	sec     int64  // the second the lane issues in
	start   int64  // the start of sec on the limiter's time line
	limit   uint32 // how many tickets the lane may issue
	spacing int64  // the least time between two slots
	// state is the number of tickets issued through the lane (low 32
	// bits) and the slot of the last ticket (high 32 bits), an offset
	// from start biased by laneBias; laneClosed once closed.
	state atomic.Uint64
}

const (
	laneBias   = int64(1) << 31
	laneClosed = ^uint64(0)
)

func packLane(n uint32, slot int64) uint64 { return uint64(slot+laneBias)<<32 | uint64(n) }

func unpackLane(w uint64) (n uint32, slot int64) {
	return uint32(w), int64(w>>32) - laneBias
}

// take issues a ticket through the lane at now, the time read by clock,
// and reports whether it could: now falls in the lane's second, the lane
// is open and not used up, and the spacing allows it. A time read before
// another goroutine took a later slot is read again, once.
func (ln *lane) take(now *int64, clock func() int64) bool {
	off := *now - ln.start
	if off < 0 || off >= nsPerSec {
		return false
	}
	fresh := false
	for {
		w := ln.state.Load()
		n, slot := unpackLane(w)
		if w == laneClosed || n >= ln.limit {
			return false
		}
		due := slot + ln.spacing
		if off < due {
			if fresh || off >= slot {
				return false
			}
			*now, fresh = clock(), true
			if off = *now - ln.start; off >= nsPerSec {
				return false
			}
			continue
		}
		due = slotOf(off, due, ln.spacing)
		if ln.state.CompareAndSwap(w, packLane(n+1, due)) {
			return true
		}
	}
}

// tryLane issues t through the open lane, if there is one and it can.
func (l *BucketRateLimiter) tryLane(t *Ticket) bool {
	ln := l.lane.Load()
	if ln == nil {
		return false
	}
	now := l.now()
	if !ln.take(&now, l.now) {
		return false
	}
	t.state.Store(stateIssued)
	t.issuedAt = now
	return true
}

// lock takes mu and closes the lane, if one is open: whatever holds mu
// sees every ticket issued.
func (l *BucketRateLimiter) lock() {
	l.mu.Lock()
	if l.lane.Load() != nil {
		l.closeLane()
	}
}

// closeLane closes the open lane and adds the tickets it issued to the
// bucket and the counters. Requires mu.
func (l *BucketRateLimiter) closeLane() {
	ln := l.lane.Swap(nil)
	if ln == nil {
		return
	}
	n, slot := unpackLane(ln.state.Swap(laneClosed))
	if n == 0 {
		return
	}
	l.b.takeMany(ln.sec, int(n), ln.start+slot)
	l.stats.requested += uint64(n)
	l.stats.issued += uint64(n)
	l.inFlight += int(n)
}

// openLane opens a lane for the rest of the second of now, right after a
// ticket was issued at now: so the limiter is open, unpaused and holds no
// ticket back for the server, and nobody waits. It opens none where more
// than the bucket's pacing decides: a log to keep, a budget, an in-flight
// cap or a shared quota. A learned limit is raised by the next ticket that
// takes mu, within the second. Requires mu.
func (l *BucketRateLimiter) openLane(now int64) {
	if l.logging || l.budgeted || l.cfg.maxInFlight > 0 || l.sh != nil {
		return
	}
	sec := secOf(now)
	k, spacing := l.b.laneRoom(sec)
	if k < 2 || spacing >= nsPerSec {
		return // one ticket, or none: the lane would not pay for itself
	}
	start := sec * nsPerSec
	ln := &lane{sec: sec, start: start, limit: uint32(k), spacing: spacing}
	// A slot long before the second starts constrains nothing; one just
	// before it does (the spacing reaches into the second), and so does
	// the lateness the spacing makes up (see slotOf).
	slot := max(l.b.slot-start, -(spacing + timerJitter + 1))
	ln.state.Store(packLane(0, slot))
	l.lane.Store(ln)
}
