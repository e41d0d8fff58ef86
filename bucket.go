package ratellmiter

import (
	"math"
	"time"
)

// bucket is the pacing arithmetic of one limiter: how many tickets each
// one-second bucket may issue (the per-second cap and the ramp), how far apart
// tickets inside a second must be, and how many were issued in the last
// sixty seconds.
//
// Every method takes the time explicitly, as nanoseconds on the limiter's
// monotonic time line (see BucketRateLimiter.now), so the arithmetic is a
// pure function of its inputs and can be tested without a clock. A bucket is
// not safe for concurrent use; the limiter guards it with its mutex.
type bucket struct {
	rpm       int   // tickets allowed in any 60-second window
	perSec    int   // tickets allowed in any one-second bucket: ceil(rpm/60)
	rampStart int   // the least a second may issue after an idle second
	rampStep  int   // how much a second may add to what the previous one issued
	gap       int64 // the least spacing between two tickets: ceil(60s/rpm)

	counts  [60]secCount // issued tickets per second, indexed by second mod 60
	winSec  int64        // the second winSum is computed for
	winSum  int          // tickets issued in seconds (winSec-60, winSec]
	last    int64        // when the last ticket was issued
	slot    int64        // the slot of the last ticket, from which the next is spaced
	hasLast bool
	// before is the slot, issue time and hasLast from before the last
	// take, so that refunding that ticket frees its slot; undo says
	// whether they may be restored.
	before struct {
		slot, last int64
		hasLast    bool
	}
	undo    bool
	rampSec int64 // the ramp restarts here: earlier seconds count as idle
	// idleRamp makes every second ramp from the one before, so a burst
	// after idleness ramps up; without it only the seconds after a pause
	// ramp, until one of them issues the full per-second cap.
	idleRamp bool
	ramping  bool
	// storePaced says a shared quota's store spaces the tickets (and ramps
	// the quota after a pause): the bucket's own ramp, which counts only
	// this limiter's tickets, does not apply.
	storePaced bool
}

type secCount struct {
	sec int64
	n   int
}

const nsPerSec = int64(time.Second)

// after returns the time d after now on the limiter's time line, saturating
// at the ends of int64: a huge hint, timeout or deadline means "never"
// rather than wrapping into the past.
func after(now int64, d time.Duration) int64 {
	switch {
	case d > 0 && now > math.MaxInt64-int64(d):
		return math.MaxInt64
	case d < 0 && now < math.MinInt64-int64(d):
		return math.MinInt64
	}
	return now + int64(d)
}

// slotOf returns the slot of a ticket issued at now that was due at due,
// with spacing sp between slots: due, if it was issued at most slotSlack
// after that; slotSlack before now, if it was later but still within a
// timer's lateness (timerJitter, and a spacing); and otherwise now: it
// came to an idle limiter, and the next ticket is spaced from it.
//
// At rates whose spacing is shorter than slotSlack (above 30,000 RPM),
// the next ticket may then be due at once: a timer that fires a
// millisecond late, as short timers do on many machines, issues the
// tickets due meanwhile together rather than losing them.
func slotOf(now, due, sp int64) int64 {
	switch late := now - due; {
	case late <= slotSlack:
		return due
	case late <= min(sp, timerJitter):
		return now - slotSlack
	}
	return now
}

// timerJitter bounds how late a timer may fire: a ticket later than that
// came to an idle limiter.
const timerJitter = 2 * slotSlack

// slotSlack is the most of a ticket's lateness the spacing makes up (see
// bucket.spacing): more than timers' usual jitter, too little to matter to
// any server.
const slotSlack = int64(2 * time.Millisecond)

// newBucket returns a bucket for rpm tickets per minute whose ramp starts at
// startFrac of the per-second cap and grows by stepFrac of it each second.
func newBucket(rpm int, startFrac, stepFrac float64, idleRamp bool) bucket {
	b := bucket{winSec: math.MinInt64 / 2, rampSec: math.MinInt64 / 2, idleRamp: idleRamp}
	b.setRate(rpm, startFrac, stepFrac)
	return b
}

// setRate changes the limit, keeping the counts already issued.
func (b *bucket) setRate(rpm int, startFrac, stepFrac float64) {
	b.rpm = rpm
	b.perSec = (rpm + 59) / 60
	b.rampStart = fractionOf(b.perSec, startFrac)
	b.rampStep = fractionOf(b.perSec, stepFrac)
	b.gap = (60*nsPerSec + int64(rpm) - 1) / int64(rpm)
}

// fractionOf returns frac of n, rounded up, and at least 1.
func fractionOf(n int, frac float64) int {
	v := int(math.Ceil(float64(n)*frac - 1e-9))
	return min(max(v, 1), n)
}

// secOf returns the second that contains ns.
func secOf(ns int64) int64 {
	if ns < 0 {
		return (ns - nsPerSec + 1) / nsPerSec
	}
	return ns / nsPerSec
}

// issuedIn returns how many tickets were issued in second sec, if sec is
// still within the last minute of the ring.
func (b *bucket) issuedIn(sec int64) int {
	c := &b.counts[mod60(sec)]
	if c.sec == sec {
		return c.n
	}
	return 0
}

func mod60(sec int64) int {
	m := int(sec % 60)
	if m < 0 {
		m += 60
	}
	return m
}

// advance moves the 60-second window so that it ends with second sec.
// Time only moves forward: an earlier sec leaves the window alone.
func (b *bucket) advance(sec int64) {
	if sec <= b.winSec {
		return
	}
	if sec-b.winSec >= 60 {
		b.winSum = 0
	} else {
		for s := b.winSec + 1; s <= sec; s++ {
			c := &b.counts[mod60(s)]
			if c.sec == s-60 {
				b.winSum -= c.n
			}
		}
	}
	b.winSec = sec
}

// allowance returns how many tickets second sec may issue: what the previous
// second issued plus the ramp step, at least the ramp start, at most the
// per-second cap.
func (b *bucket) allowance(sec int64) int {
	if b.storePaced || (!b.idleRamp && !b.ramping) {
		return b.perSec
	}
	prev := 0
	if sec-1 >= b.rampSec {
		prev = b.issuedIn(sec - 1)
	}
	return min(max(b.rampStart, prev+b.rampStep), b.perSec)
}

// spacing returns the time between the slots of two tickets in a second
// whose allowance is a: the second's tickets are spread across it, and
// never closer than the per-minute rate allows. A limiter sharing a quota
// spaces none: the store's slots do.
//
// Tickets are spaced from the last ticket's slot, not from when it was
// issued (see slotOf). A timer that fires a little late (a fraction of a millisecond,
// each time) thus does not push every later ticket back: at 50 tickets a
// second, spacing from the issue times lost about 0.35 s over 600
// tickets. The per-second cap and the sixty one-second buckets count
// tickets when they are issued and hold exactly; a sliding sixty seconds
// may see R+1 tickets only if it is shorter than a minute by the lateness
// made up, at most slotSlack.
func (b *bucket) spacing(a int) int64 {
	if b.storePaced {
		// The store's slots space the tickets; the limiter's own
		// spacing, in nanoseconds, is wider than slots in whole
		// milliseconds, and would fall behind them onto the slots of
		// the other limiters.
		return 0
	}
	return max(nsPerSec/int64(a), b.gap)
}

// windowAt returns how many tickets issued so far fall in the 60-second
// window that ends with second sec (sec >= the current window's second).
// No ticket was issued after the current window's second, so the count is
// the current sum less the seconds that leave the window.
func (b *bucket) windowAt(sec int64) int {
	if sec <= b.winSec {
		return b.winSum
	}
	if sec-b.winSec >= 60 {
		return 0
	}
	n := b.winSum
	for s := b.winSec - 59; s <= sec-60; s++ {
		n -= b.issuedIn(s)
	}
	return n
}

// ready reports whether a ticket may be issued at now.
func (b *bucket) ready(now int64) bool {
	sec := secOf(now)
	b.advance(sec)
	a := b.allowance(sec)
	if b.hasLast && now-b.slot < b.spacing(a) {
		return false
	}
	return b.issuedIn(sec) < a && b.winSum < b.rpm
}

// next returns the earliest time at or after now when a ticket may be issued.
func (b *bucket) next(now int64) int64 {
	t := now
	// Each step either returns or moves t forward by at least the ticket
	// spacing or to the next second; within 130 steps the 60-second window
	// has always moved past every ticket that filled it.
	for range 130 {
		sec := secOf(t)
		a := b.allowance(sec)
		if b.hasLast {
			if e := b.slot + b.spacing(a); t < e {
				if secOf(e) != sec {
					// The spacing ends in a later second, whose
					// allowance (higher during a ramp) may space
					// tickets closer: start that second afresh.
					t = (sec + 1) * nsPerSec
					continue
				}
				t = e
			}
		}
		if b.issuedIn(sec) >= a || b.windowAt(sec) >= b.rpm {
			t = (sec + 1) * nsPerSec
			continue
		}
		return t
	}
	return t
}

// take records a ticket issued at now. The caller has checked ready(now).
func (b *bucket) take(now int64) {
	sec := secOf(now)
	b.advance(sec)
	sp := b.spacing(b.allowance(sec))
	b.before.slot, b.before.last, b.before.hasLast = b.slot, b.last, b.hasLast
	b.undo = true
	if b.hasLast {
		b.slot = slotOf(now, b.slot+sp, sp)
	} else {
		b.slot = now
	}
	b.count(sec, 1)
	b.last, b.hasLast = now, true
}

// count adds n tickets issued in second sec, the window's last second.
func (b *bucket) count(sec int64, n int) {
	c := &b.counts[mod60(sec)]
	if c.sec != sec {
		c.sec, c.n = sec, 0
	}
	c.n += n
	if b.ramping && c.n >= b.perSec {
		b.ramping = false
	}
	b.winSum += n
}

// laneRoom returns how many more tickets second sec may issue, and their
// spacing: the room a lane may take. It assumes no ticket after sec.
func (b *bucket) laneRoom(sec int64) (int, int64) {
	b.advance(sec)
	a := b.allowance(sec)
	return max(0, min(a-b.issuedIn(sec), b.rpm-b.winSum)), b.spacing(a)
}

// takeMany records n tickets issued in second sec, the last at slot, as a
// lane issues them.
func (b *bucket) takeMany(sec int64, n int, slot int64) {
	b.advance(sec)
	b.count(sec, n)
	b.slot, b.last, b.hasLast = slot, max(b.last, slot), true
	b.undo = false
}

// refund gives back a ticket issued at 'at' that was never used, so the
// capacity it held is not lost: its count and, if it was the last ticket
// taken, its slot, so that the next ticket is spaced from the one before
// it rather than a spacing after the ticket that was never used.
func (b *bucket) refund(at int64) {
	sec := secOf(at)
	c := &b.counts[mod60(sec)]
	if c.sec != sec || c.n == 0 {
		return
	}
	c.n--
	// Two tickets issued at the same instant cannot be told apart: then
	// the slot stays taken, as it would have been without the refund.
	if b.undo && at == b.last && !(b.before.hasLast && b.before.last == at) {
		b.slot, b.last, b.hasLast = b.before.slot, b.before.last, b.before.hasLast
		b.undo = false
	}
	if sec > b.winSec-60 && sec <= b.winSec {
		b.winSum--
	}
}

// restartRamp makes the ramp start again from its first step at second sec,
// as after a pause.
func (b *bucket) restartRamp(sec int64) {
	b.rampSec = sec
	b.ramping = true
}
