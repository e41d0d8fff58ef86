package ratellmiter

import (
	"fmt"
	"time"
)

// shared is a limiter's side of a quota shared through a Store: the lease
// of the current second's tickets, what is still to be told to the store,
// and what the store last said. A limiter without a store has none, and
// its ticket path only checks that the pointer is nil.
//
// cfg and kick are set at creation; everything else is guarded by the
// limiter's mu. The hooks below are called by the core with mu held; they
// never do I/O: the sync loop (sharesync.go) talks to the store.
type shared struct {
	cfg  shareConfig
	kick chan struct{} // wakes the sync loop; buffered, sent to without blocking

	leaseSec  int64 // the second the lease is for
	leaseN    int   // leased tickets of leaseSec not issued yet
	usedSec   int   // tickets of leaseSec issued from leases: the demand to lease for
	slot      int64 // the earliest time the next leased ticket may be issued
	spacing   int64 // between two leased tickets' slots
	capped    int64 // a grant for this second fell short: ask again next second
	asked     bool  // a ticket was wanted when no lease had one
	tried     bool  // while paused, a due probe was wanted without the probe lease
	forTry    bool  // the probe lease was last asked for a caller that tried (see triedCanary)
	quiet     int64 // no ticket is asked for before then: the store lost the quota's state
	retelling bool  // the store lost the quota's state: tell it the minute's tickets at once

	returned []SecondCount // leased tickets not issued, to hand back
	used     []SecondCount // tickets issued without a lease, to count
	events   []QuotaEvent  // pauses and resumes not told yet
	applying bool          // the store's state is being applied: not a local event
	seq      uint64        // the number of the last request
	unacked  *sentNews     // what a failed sync told, to tell again first
	left     bool          // the store has the limiter's word that it is leaving (a final sync)

	epoch       uint64     // the pause epoch the store last said
	incarnation uint64     // the store's incarnation epoch is of; 0 before the first sync
	holder      bool       // this limiter holds the probe lease
	probeAsked  int64      // when the lease was last asked for
	sentLearned int        // the learned limit the store has from this limiter
	live        int        // live limiters on the quota as the store last said; 0 before the first sync
	inForce     QuotaLimit // the caps the store last said it holds the quota to; zero if none
	heldTo      int        // the RPM the log last said the quota holds the limiter below its own to; 0 if not held
	window      int        // tickets in the store's window at the last sync
	windowSec   int64      // the second of that window
	lastSync    int64      // when the last sync ended

	down    bool  // the last sync failed
	err     error // while down and FailClosed: what Acquire returns
	fbFrom  int64 // while down: the first second the fallback issues in
	fbUntil int64 // while down: the store's last window is gone from this second on
	fbLeft  int   // while down, before fbUntil: this limiter's share of what that window had left
}

// sentNews is what a sync that failed told the store: the store may have
// applied it, so it is sent again as it was, numbered as it first was,
// before anything newer.
type sentNews struct {
	seq      uint64
	returned []SecondCount
	used     []SecondCount
	events   []QuotaEvent
}

// newShared returns the shared side of a limiter created at now (Unix
// ns): its requests are numbered from now in microseconds.
func newShared(c shareConfig, now int64) *shared {
	return &shared{cfg: c, kick: make(chan struct{}, 1), seq: uint64(max(now, 0) / 1000)}
}

// processes returns N, the number of limiters the fallback shares the
// rate with: the live ones the store last reported or, before the first
// sync, the expected number (WithExpectedProcesses), or else the
// per-second cap, which leaves one ticket a second. At least 1.
func (s *shared) processes(l *BucketRateLimiter) int {
	switch {
	case s.live > 0:
		return s.live
	case s.cfg.expected > 0:
		return s.cfg.expected
	}
	return max(1, l.b.perSec)
}

// poke wakes the sync loop.
func (s *shared) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// allow reports whether the limiter, whose own budgets allow a ticket at
// now, may issue it under the shared quota: a leased ticket whose slot has
// come, or, while the store is unreachable, the fallback's share.
func (s *shared) allow(l *BucketRateLimiter, now int64) bool {
	sec := secOf(now)
	if s.down {
		return s.fallbackAllows(l, sec)
	}
	if sec == s.leaseSec && s.leaseN > 0 {
		return now >= s.slot
	}
	s.asked = true
	s.poke()
	return false
}

// use records a ticket issued at now.
func (s *shared) use(now int64) {
	sec := secOf(now)
	if !s.down && sec == s.leaseSec && s.leaseN > 0 {
		s.leaseN--
		s.usedSec++
		// As the bucket does (see slotOf), so that late timers do not
		// push the lease's later slots back.
		s.slot = slotOf(now, s.slot, s.spacing)
		s.slot += s.spacing
		if s.leaseN == 0 {
			s.poke() // lease the next batch while this ticket's call runs
		}
		return
	}
	s.used = addCount(s.used, sec, 1) // a canary, or the fallback
	if s.down {
		s.fbLeft--
	}
}

// refund takes back a ticket issued at 'at' and never used.
func (s *shared) refund(at int64) {
	sec := secOf(at)
	if !s.down && sec == s.leaseSec {
		s.leaseN++
		s.usedSec--
		return
	}
	s.returned = addCount(s.returned, sec, 1)
}

// wakeAt adjusts when the limiter's timer should fire: never for a ticket
// that needs a lease not held yet (the sync loop dispatches when one
// comes), never for a probe another limiter holds the lease of (the sync
// loop asks for the lease when the limiter can send the canary), and not
// before the next leased ticket's slot.
func (s *shared) wakeAt(l *BucketRateLimiter, now, at int64) int64 {
	if at == 0 {
		return 0
	}
	if l.p.paused {
		if s.holder || s.down {
			return at
		}
		if s.wantsProbe(l, now) {
			s.poke() // a waiter can send the canary now (a call ended, say)
		}
		return 0
	}
	if s.down {
		if s.fallbackAllows(l, secOf(at)) {
			return at
		}
		return (secOf(max(at, now)) + 1) * nsPerSec
	}
	switch sec := secOf(at); {
	case sec == s.leaseSec && s.leaseN > 0:
		return max(at, s.slot)
	case sec > secOf(now):
		return at
	}
	s.poke() // the sync loop dispatches when the lease comes
	return 0
}

// caps returns the per-second and per-minute caps of the quota as this
// limiter knows them: its own, or those the store last said it holds
// the quota to where lower (a limiter sharing the key has a lower
// limit). Requires mu.
func (s *shared) caps(l *BucketRateLimiter) (perSec, rpm int) {
	perSec, rpm = l.b.perSec, l.b.rpm
	if c := s.inForce; c.stated() {
		perSec, rpm = min(perSec, c.PerSecond), min(rpm, c.PerMinute)
	}
	return perSec, rpm
}

// fallbackAllows reports whether the fallback lets the limiter issue a
// ticket in second sec while the store is unreachable: not in the second
// the limiter found it so, whose tickets the other limiters may have
// leased already, and then its share. Requires the bucket's window to be
// at or before sec.
func (s *shared) fallbackAllows(l *BucketRateLimiter, sec int64) bool {
	if s.cfg.policy == FailClosed || sec < s.fbFrom {
		return false
	}
	n := s.processes(l)
	perSec, rpm := s.caps(l)
	if l.b.issuedIn(sec) >= max(1, perSec/n) || l.b.windowAt(sec) >= max(1, rpm/n) {
		return false
	}
	return sec >= s.fbUntil || s.fbLeft > 0
}

// mayProbe reports whether the paused limiter may probe now: it holds the
// probe lease, or the store is unreachable. Otherwise the sync loop asks
// for the lease, if the limiter has a request to send as the canary (see
// wantsProbe).
func (s *shared) mayProbe() bool {
	if s.holder || s.down {
		return true
	}
	s.poke()
	return false
}

// dropIdleLease gives back the probe lease of a paused limiter that holds
// it for a canary that none of its callers is left to send: the waiter it
// was asked for gave up, or the canary was given back unused, and nobody
// else waits. Every limiter sharing the quota would otherwise stay paused
// until the lease expired, long after the probe was due. A lease asked for
// a caller that tried (see triedCanary) is kept for that caller's next
// try. Requires mu.
func (s *shared) dropIdleLease(l *BucketRateLimiter) {
	p := &l.p
	if !s.holder || !p.armed || p.canary != nil || l.q.len() > 0 || s.forTry {
		return
	}
	p.armed = false // the canary goes under the next lease
	s.releaseProbe(l)
}

// triedCanary records that a caller who does not wait in line (a
// TryAcquire) found the probe due without the lease: the sync loop asks
// for it, and that caller's next try goes out as the canary. Only a
// caller does this, never the limiter's timer: an idle limiter holding
// the lease would keep every limiter sharing the quota paused.
func (s *shared) triedCanary() {
	if !s.holder && !s.down {
		s.tried = true
		s.poke()
	}
}

// refused tells the store that the server refused a call: the limiter
// paused, or its probe failed (probeFailed), or a straggler pushed its
// probe later. Called after the pause state changed.
func (s *shared) refused(l *BucketRateLimiter, probeFailed bool) {
	if s.applying || !l.p.paused || (s.holder && !probeFailed) {
		return
	}
	s.holder = false
	s.tellRefused(l)
}

// tellRefused queues the limiter's pause, with its probe time, to be told
// to the store. Requires mu.
func (s *shared) tellRefused(l *BucketRateLimiter) {
	ev := QuotaEvent{Kind: QuotaRefused, ProbeAt: l.p.probeAt, Overload: l.p.overload && !l.p.refused}
	if n := len(s.events); n > 0 && s.events[n-1].Kind == QuotaRefused {
		s.events[n-1] = ev
	} else {
		s.tell(ev)
	}
	s.poke()
}

// tell queues ev, a pause or a resume, to be told to the store. Of the
// events queued before, it keeps only the last: the store applies a sync's
// events in one step, and the last pause and resume of a run leave the
// quota as the whole run would. While the store is out of reach, a run of
// pauses and resumes would otherwise grow with the outage, and so would
// the sync that tells it. Requires mu.
func (s *shared) tell(ev QuotaEvent) {
	if n := len(s.events); n >= 2 {
		s.events = []QuotaEvent{s.events[n-1]}
	}
	s.events = append(s.events, ev)
}

// resumed tells the store that the limiter's probe found the server
// accepting requests again.
func (s *shared) resumed() {
	s.tried = false
	if s.applying {
		return
	}
	s.holder = false
	s.tell(QuotaEvent{Kind: QuotaResumed})
	s.poke()
}

// refused returns why a waiting ticket was refused: the limiter's error,
// or else the store's. Requires mu.
func (l *BucketRateLimiter) refused() error {
	if l.err != nil || l.sh == nil {
		return l.err
	}
	if l.sh.err != nil {
		return l.sh.err
	}
	return ErrStoreUnavailable
}

// pauseShared pauses the limiter because another limiter on the quota was
// rate limited, or overloaded if overload says the quota's pause is one of
// overloads alone. It does not learn from it: the one that saw the rate
// limit did, and the store shares what it learned. The event is logged
// before the limiter pauses, so that a minute record it opens starts
// unpaused and the log shows the pause from now on. Requires mu.
func (l *BucketRateLimiter) pauseShared(now, probeAt int64, overload bool) {
	l.event(now, EventPause, fmt.Sprintf("rate limited on the shared quota; probe in %v",
		time.Duration(max(0, probeAt-now)).Round(time.Millisecond)))
	p := &l.p
	p.paused, p.since, p.overload = true, now, overload
	l.okIssued.Store(0) // only successes during the pause count
	p.interval = l.cfg.probeFirst
	p.probeAt = probeAt
	l.stats.pauses++
}

// countIn returns the count of second sec in cs.
func countIn(cs []SecondCount, sec int64) int {
	for _, c := range cs {
		if c.Sec == sec {
			return c.N
		}
	}
	return 0
}

// addCount adds n tickets of second sec to cs.
func addCount(cs []SecondCount, sec int64, n int) []SecondCount {
	for i := range cs {
		if cs[i].Sec == sec {
			cs[i].N += n
			return cs
		}
	}
	return append(cs, SecondCount{Sec: sec, N: n})
}
