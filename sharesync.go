package ratellmiter

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

const (
	// syncTick is the longest a limiter with a store goes without a sync:
	// its heartbeat, how soon it sees another limiter's pause when it has
	// nothing else to ask, and how often it retries an unreachable store.
	syncTick = 500 * time.Millisecond
	// liveTTL is how long a heartbeat counts a limiter as live.
	liveTTL = 3 * time.Second
	// resetQuiet is how long a limiter asks for no ticket after finding
	// that the store lost the quota's state, when its sixty-second cap
	// binds: two heartbeats, for every limiter to tell the store its
	// tickets of the minute again.
	resetQuiet = 2 * syncTick
	// leaseMargin is added to the probe timeout for the probe lease.
	leaseMargin = 2 * time.Second
)

// syncLoop talks to the store: at once when the limiter needs tickets it
// has no lease for, has events to tell or wants the probe lease; otherwise
// at the next second (while tickets are wanted) or the next tick. It ends
// when the Monitor stops or the limiter closes, with a last word to the
// store (see finalSync): Monitor.Stop, which waits for the loop, may take
// up to twice the sync timeout longer. The store is never called with mu
// held.
func (l *BucketRateLimiter) syncLoop(ctx context.Context) {
	s := l.sh
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer l.finalSync(ctx)
	for {
		l.lock()
		if l.err != nil {
			l.mu.Unlock()
			return
		}
		now := l.now()
		wait := s.due(l, now)
		var req SyncRequest
		if wait <= 0 {
			req = s.request(l, now, false)
		}
		l.mu.Unlock()
		if wait > 0 {
			timer.Reset(time.Duration(wait))
			select {
			case <-ctx.Done():
				return
			case <-s.kick:
			case <-timer.C:
			}
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, s.cfg.timeout)
		rep, err := s.sync(sctx, req)
		cancel()
		l.lock()
		if err != nil && ctx.Err() != nil {
			// Cut short by the Monitor's Stop, not a failure of the
			// store: what req told is told again by the final sync.
			s.settle(req, rep, err)
		} else {
			s.apply(l, l.now(), req, rep, err)
		}
		l.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

// sync calls the store's Sync for the quota. A panic of Sync (a Store of
// one's own with a bug) would end the program from the Monitor's
// goroutine: it is returned as the store's error instead, so that the
// failure policy applies as for a store that cannot be reached.
func (s *shared) sync(ctx context.Context, req SyncRequest) (rep SyncReply, err error) {
	defer func() {
		if r := recover(); r != nil {
			rep, err = SyncReply{}, fmt.Errorf("ratellmiter: Sync of the store panicked: %v", r)
		}
	}()
	return s.cfg.store.Sync(ctx, s.cfg.key, req)
}

// finalSync tells the store, as the sync loop ends, what the limiter has
// not told it yet, so that the other limiters sharing the quota do not
// miss it: first, again, what a sync whose reply was lost told, then the
// events (a rate limit seen just before, say), the tickets used without a
// lease and handed back, and the learned limit. It asks for no tickets
// and not for the probe lease, and releases the lease if the limiter
// holds it, so that another limiter probes without waiting for it to
// expire. A closed limiter hands back its lease too; one whose Monitor is
// stopping keeps it, as it may issue from it until the Monitor shuts it
// down. It also says that the limiter is leaving (SyncRequest.Leaving), so
// that the store stops counting it as live, and its caps stop holding the
// quota, at once rather than LiveTTL after its last sync. At most two
// syncs, each bounded by the sync timeout even though ctx has ended, and
// none when the store is known to be unreachable, or when the limiter
// never synced or the store has its word already and there is nothing
// else to tell.
func (l *BucketRateLimiter) finalSync(ctx context.Context) {
	s := l.sh
	for range 2 {
		l.lock()
		req, ok := s.finalRequest(l, l.now())
		l.mu.Unlock()
		if !ok {
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.timeout)
		rep, err := s.sync(sctx, req)
		cancel()
		l.lock()
		s.lastSync = l.now()
		s.settle(req, rep, err)
		l.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// releaseProbe gives back the probe lease of a paused limiter that is
// ending, as a failed probe does: the next probe is due at the limiter's
// probe time, and another limiter may make it. Requires mu.
func (s *shared) releaseProbe(l *BucketRateLimiter) {
	if s.holder {
		s.holder = false
		s.tellRefused(l)
	}
}

// finalRequest returns the next request of the final sync, and false if
// there is none to make. Requires mu.
func (s *shared) finalRequest(l *BucketRateLimiter, now int64) (SyncRequest, bool) {
	if s.down {
		return SyncRequest{}, false
	}
	if s.unacked == nil {
		if s.leaseN > 0 && (l.err != nil || s.leaseSec != secOf(now)) {
			s.returned = addCount(s.returned, s.leaseSec, s.leaseN)
			s.leaseN = 0
		}
		if l.p.paused || l.err != nil {
			// A closed limiter's pause ended when it closed, but a sync
			// on its way then may have granted it the lease since.
			s.releaseProbe(l)
		}
		if len(s.events) == 0 && len(s.returned) == 0 && len(s.used) == 0 && l.lim.learned == s.sentLearned &&
			(s.left || s.lastSync == 0) {
			return SyncRequest{}, false
		}
	}
	req := s.request(l, now, true)
	req.Leaving = true
	return req, true
}

// demand returns how many tickets the limiter is waiting to issue.
// Requires mu.
func (s *shared) demand(l *BucketRateLimiter, now int64) int {
	if l.p.paused || l.full() || now < l.lim.holdUntil || now < s.quiet {
		return 0
	}
	d := l.q.len()
	if s.asked {
		d = max(d, 1)
	}
	return d
}

// due returns how long the sync loop may wait before its next sync.
// Requires mu.
func (s *shared) due(l *BucketRateLimiter, now int64) int64 {
	tick := s.lastSync + int64(syncTick) - now
	if s.down {
		return tick
	}
	if len(s.events) > 0 || s.retelling {
		return 0
	}
	if l.p.paused {
		if s.wantsProbe(l, now) {
			return s.probeAsked + int64(syncTick) - now
		}
		if !s.holder && l.p.probeAt > now {
			return min(tick, l.p.probeAt-now)
		}
		if at := l.headAt(now); !s.holder && at > now {
			return min(tick, at-now) // ask for the lease once it could be sent
		}
		return tick
	}
	if s.demand(l, now) == 0 {
		if h := max(l.lim.holdUntil, s.quiet) - now; h > 0 && l.q.len() > 0 {
			return min(tick, h) // lease as soon as the hold ends
		}
		return tick
	}
	sec := secOf(now)
	next := (sec+1)*nsPerSec - now
	if (sec != s.leaseSec || s.leaseN == 0) && s.capped != sec {
		return 0
	}
	return min(tick, next)
}

// wantsProbe reports whether the limiter should ask for the probe lease:
// its probe is due and it can probe, which without a service's probe means
// it has a request to send as the canary, tried since the lease was last
// asked for, or waiting and within the limiter's own limits (its in-flight
// cap, the server's hold, its budgets and its bucket): a limiter holding
// the lease that cannot send the canary, idle or held back, would keep
// every limiter sharing the quota paused.
func (s *shared) wantsProbe(l *BucketRateLimiter, now int64) bool {
	p := &l.p
	if !p.paused || s.holder || p.probing || p.canary != nil || now < p.probeAt {
		return false
	}
	if s.tried || (l.cfg.service != nil && !p.useCanary) {
		return true
	}
	t := l.q.front()
	return t != nil && l.withinLimits(now, t)
}

// request builds the next SyncRequest and hands over what it tells: if
// the sync fails, lost (or settle) keeps it to be sent again. The final
// request asks for no tickets and not for the probe lease. Requires mu.
func (s *shared) request(l *BucketRateLimiter, now int64, final bool) SyncRequest {
	sec := secOf(now)
	if s.leaseSec != sec {
		if s.leaseN > 0 {
			s.returned = addCount(s.returned, s.leaseSec, s.leaseN)
		}
		s.leaseSec, s.leaseN, s.usedSec = sec, 0, 0
	}
	// Seconds that left the window are not counted by the store: while it
	// is unreachable, they would pile up, one a second, and make the sync
	// that tells them too big to end within the sync timeout.
	s.returned, s.used = inWindow(s.returned, sec), inWindow(s.used, sec)
	// Tickets are asked for only once the lease has none left: the lease
	// holds one run of slots, and a grant's slots come after those of
	// every grant before it, so tickets added to a lease that still has
	// some would be issued on the slots that follow its own, which the
	// store gave to other limiters.
	want := 0
	if d := s.demand(l, now); d > 0 && !s.down && !final && s.leaseN == 0 {
		perSec, _ := s.caps(l)
		batch := max(1, perSec/4)
		want = min(max(d, s.usedSec), batch)
		s.asked = false
	}
	s.retelling = false // what is to be retold goes in Used
	req := SyncRequest{
		ID:          s.cfg.id,
		Now:         now,
		Sec:         sec,
		Want:        want,
		Limit:       QuotaLimit{PerSecond: l.b.perSec, PerMinute: l.b.rpm, RampStart: l.b.rampStart, RampStep: l.b.rampStep},
		Returned:    s.returned,
		Used:        s.used,
		Events:      s.events,
		Epoch:       s.epoch,
		Incarnation: s.incarnation,
		ProbeTTL:    time.Duration(after(int64(l.cfg.probeTimeout), leaseMargin)),
		LiveTTL:     liveTTL,
	}
	if s.wantsProbe(l, now) && !s.down && !final {
		req.WantProbe = true
		s.probeAsked = now
		s.forTry, s.tried = s.tried, false
	}
	if l.lim.learned != s.sentLearned {
		req.SetLearned, req.Learned = true, l.lim.learned
	}
	s.seq++
	req.Seq = s.seq
	if u := s.unacked; u != nil {
		// Sent again alone: what came since goes in the next request.
		req.Retry, req.Returned, req.Used, req.Events = u.seq, u.returned, u.used, u.events
		return req
	}
	s.returned, s.used, s.events = nil, nil, nil
	return req
}

// inWindow drops from cs the seconds before the sixty that end with sec.
func inWindow(cs []SecondCount, sec int64) []SecondCount {
	return slices.DeleteFunc(cs, func(c SecondCount) bool { return c.Sec < sec-59 })
}

// apply takes in the outcome of the sync of req, and issues what it can.
// Requires mu.
func (s *shared) apply(l *BucketRateLimiter, now int64, req SyncRequest, rep SyncReply, err error) {
	s.lastSync = now
	if l.err != nil {
		s.settle(req, rep, err) // closed during the sync
		return
	}
	if err != nil {
		s.lost(l, now, req, err)
		return
	}
	s.unacked = nil
	if s.down {
		s.down, s.err = false, nil
		l.event(now, EventProbe, "quota store reachable again")
	}
	overtaken := s.overtaken(l, req, rep)
	if req.SetLearned && !overtaken {
		s.sentLearned = req.Learned
	}
	// A store whose state changed incarnation, or whose epoch went back,
	// lost its state: what it says of the pause and the learned limit is
	// not news from the other limiters.
	lost := s.incarnation != 0 && rep.Incarnation != s.incarnation
	reset := lost || rep.Epoch < s.epoch
	s.epoch, s.incarnation, s.live = rep.Epoch, rep.Incarnation, max(1, rep.Live)
	if reset {
		s.reset(l, rep)
	}
	if lost {
		s.retell(l, now, req)
	}
	s.window, s.windowSec = rep.Window, req.Sec
	s.holdsBelow(l, now, rep.Limit)
	switch {
	case lost:
		// Granted before the store had the limiter's tickets again: it
		// may not hold the window. Handed back, for the next sync to ask
		// again.
		if rep.Granted > 0 && !overtaken {
			s.returned = addCount(s.returned, req.Sec, rep.Granted)
		}
	case !overtaken:
		s.lease(now, req, rep)
	}
	if rep.Learned != l.lim.learned && l.lim.learned == s.sentLearned {
		l.lim.learned, l.lim.lastChange = rep.Learned, now
		s.sentLearned = rep.Learned
		l.applyLimit()
		l.event(now, EventLimit, fmt.Sprintf("learned on the shared quota: limit %d RPM", l.b.rpm))
	}
	s.holder = rep.Probe
	if len(s.events) == 0 && !rep.Overload {
		// A rate limit came in the quota's pause, or in its last one,
		// whichever limiter saw it: the pause is no pause of overloads
		// alone, and its resume is a base for learning.
		l.p.overload = false
		if !rep.Paused {
			l.lim.overloadResume = false
		}
	}
	switch {
	case len(s.events) > 0:
		// Something happened during the sync: the next one tells it.
	case rep.Paused && !l.p.paused:
		l.pauseShared(now, rep.ProbeAt, rep.Overload)
	case rep.Paused && !s.holder:
		l.p.probeAt = rep.ProbeAt
	case !rep.Paused && l.p.paused:
		s.applying = true
		l.resume(now, "the shared quota resumed")
		s.applying = false
	}
	// The store ramps the quota up after a resume, and paces it, over
	// every limiter. The limiter's own ramp, after a pause or after
	// idleness, counts only the tickets it issued: it would end only when
	// the limiter alone issued a whole second's cap, which a limiter
	// sharing the quota with busy ones never does, and meanwhile space
	// its tickets wider than the slots it leases, leaving some unissued.
	l.b.storePaced = true
	if !l.p.paused {
		l.b.ramping = false
	}
	if s.holder && l.p.paused {
		l.probeIfDue(now)
	}
	l.dispatch(now)
}

// holdsBelow takes in the caps the store holds the quota to, and says
// in an event when they come to hold the limiter below its own limit, or
// stop doing so. Requires mu.
// Whether it was held below is remembered, not worked out again from the
// caps last in force: the limiter's own limit may have changed since.
func (s *shared) holdsBelow(l *BucketRateLimiter, now int64, caps QuotaLimit) {
	held := 0
	if caps.PerMinute > 0 && caps.PerMinute < l.b.rpm {
		held = caps.PerMinute
	}
	switch {
	case held != 0 && held != s.heldTo:
		l.event(now, EventLimit, fmt.Sprintf("the shared quota holds %d RPM: a limiter sharing it has that limit", held))
	case held == 0 && s.heldTo != 0:
		l.event(now, EventLimit, fmt.Sprintf("the shared quota no longer holds it below %d RPM", l.b.rpm))
	}
	s.inForce, s.heldTo = caps, held
}

// settle takes in the outcome of the sync of req for a limiter that will
// not act on it: closed, or whose sync loop is ending. It keeps what the
// final sync needs: what req told, if the sync failed, to tell it again;
// else the store's epoch and whether the limiter holds the probe lease.
// A grant is handed back: it will not be issued. A failure does not mark
// the store unreachable: the final sync tries it once more. Requires mu.
func (s *shared) settle(req SyncRequest, rep SyncReply, err error) {
	if err != nil {
		if req.Retry == 0 {
			s.unacked = &sentNews{seq: req.Seq, returned: req.Returned, used: req.Used, events: req.Events}
		}
		return
	}
	s.unacked = nil
	s.down, s.err = false, nil
	s.epoch, s.incarnation, s.holder = rep.Epoch, rep.Incarnation, rep.Probe
	if s.overtaken(nil, req, rep) {
		return // told again by the next request, the final sync's second
	}
	s.left = s.left || req.Leaving
	if req.SetLearned {
		s.sentLearned = req.Learned
	}
	if rep.Granted > 0 {
		s.returned = addCount(s.returned, req.Sec, rep.Granted)
	}
}

// overtaken reports whether the store did not apply req because its Seq
// is below the last one the store applied for the limiter's ID
// (SyncReply.LastSeq): a limiter created earlier with the same ID, on a
// host whose clock was ahead, numbered its requests above this one's. The
// next request is numbered above LastSeq, and tells again, as news, what
// req told; req's grant, if any, is not the limiter's. A store that does
// not tell LastSeq leaves the limiter as it was. (A LastSeq equal to
// req.Seq is that of req itself, run twice by a client that retried it:
// applied once.) l, when not nil, logs it. Requires mu.
func (s *shared) overtaken(l *BucketRateLimiter, req SyncRequest, rep SyncReply) bool {
	if req.Seq == 0 || rep.LastSeq <= req.Seq {
		return false
	}
	if l != nil {
		l.logger.Warn("ratellmiter: quota store had later requests of this process id; numbering above them",
			"limiter", l.name, "seq", req.Seq, "last", rep.LastSeq)
	}
	// Above it by a random step: two live limiters misconfigured with
	// one id, each overtaking the other, would otherwise number their
	// next requests alike, and a request numbered as the last one
	// applied is taken for that one sent twice, and told its grant.
	s.seq = max(s.seq, rep.LastSeq) + rand.Uint64N(1<<20)
	s.unacked = nil // nothing of req, nor of a request it sent again, was applied
	for _, c := range req.Used {
		s.used = addCount(s.used, c.Sec, c.N)
	}
	for _, c := range req.Returned {
		s.returned = addCount(s.returned, c.Sec, c.N)
	}
	if len(req.Events) > 0 {
		// Told before those queued since, and kept as tell keeps them.
		queued := s.events
		s.events = nil
		for _, ev := range append(slices.Clone(req.Events), queued...) {
			s.tell(ev)
		}
	}
	if req.WantProbe {
		s.probeAsked = 0
	}
	return true
}

// reset tells a store that lost the quota's state what the limiter knows
// of it: its pause, which pauses the quota again (instead of the limiter
// resuming before its probe is due), and its learned limit unless
// another limiter told one already. Requires mu.
func (s *shared) reset(l *BucketRateLimiter, rep SyncReply) {
	l.logger.Warn("ratellmiter: quota store lost the quota's state", "limiter", l.name, "paused", l.p.paused)
	if rep.Learned == 0 {
		s.sentLearned = 0 // the next sync sends the limiter's
	} else {
		s.sentLearned = l.lim.learned // apply takes the store's
	}
	if l.p.paused {
		s.tellRefused(l)
	}
}

// retell tells a store whose state of the quota is new (another
// incarnation) the tickets the limiter issued in the last sixty seconds.
// That state counts of them only what req told (Used) and what it
// granted, so that its sixty-second window would not hold over the loss.
// What is still to be told (s.used) goes anyway. What was to be handed
// back (s.returned, and the rest of the lease) was granted by the state
// lost: handed back to the new one, it would take other limiters' tickets
// off its counts. Requires mu.
func (s *shared) retell(l *BucketRateLimiter, now int64, req SyncRequest) {
	sec := secOf(now)
	for t := sec - 59; t <= sec; t++ {
		if n := l.b.issuedIn(t) - countIn(req.Used, t) - countIn(s.used, t); n > 0 {
			s.used = addCount(s.used, t, n)
		}
	}
	s.returned, s.leaseN = nil, 0
	s.retelling = true // at once, not at the next heartbeat
	// Every other limiter syncs within a syncTick, and tells its tickets
	// again: until they all have, the store's window is short of them,
	// and no ticket is asked for, where the window binds at all. Where a
	// minute of the per-second cap is the per-minute one (R a multiple of
	// 60), the per-second cap holds the window by itself.
	if perSec, rpm := s.caps(l); perSec*60 > rpm {
		s.quiet = now + int64(resetQuiet)
	}
}

// lease adds the tickets granted by rep to the lease, or hands them back
// when their second is over. Requires mu.
func (s *shared) lease(now int64, req SyncRequest, rep SyncReply) {
	if rep.Granted < req.Want {
		s.capped = req.Sec
	}
	if rep.Granted <= 0 {
		return
	}
	if req.Sec != secOf(now) || req.Sec != s.leaseSec {
		s.returned = addCount(s.returned, req.Sec, rep.Granted)
		return
	}
	if s.leaseN == 0 {
		s.slot = rep.NotBefore
	}
	s.leaseN += rep.Granted
	s.spacing = rep.Spacing
}

// lost handles a failed sync: what req told is kept to be told again, as
// it was (the store may have applied it), and on the first failure the
// limiter falls back or fails closed. Requires mu.
func (s *shared) lost(l *BucketRateLimiter, now int64, req SyncRequest, err error) {
	if req.Retry == 0 {
		s.unacked = &sentNews{seq: req.Seq, returned: req.Returned, used: req.Used, events: req.Events}
	}
	if req.WantProbe {
		s.probeAsked = 0
	}
	if s.down {
		return
	}
	s.down = true
	s.holder = false
	l.b.storePaced = false // on its own limits now, ramp included
	if s.leaseN > 0 {
		s.returned = addCount(s.returned, s.leaseSec, s.leaseN)
		s.leaseN = 0
	}
	n := s.processes(l)
	s.fbFrom = secOf(now) + 1
	_, rpm := s.caps(l)
	s.fbLeft = max(0, rpm-s.window) / n
	s.fbUntil = s.windowSec + 60
	if s.windowSec == 0 {
		s.fbUntil = 0 // never synced: nothing of the store's window is known
	}
	l.logger.Warn("ratellmiter: quota store unreachable", "limiter", l.name, "policy", s.cfg.policy.String(), "error", err)
	l.event(now, EventProbe, fmt.Sprintf("quota store unreachable (%v): %v", s.cfg.policy, err))
	if s.cfg.policy != FailClosed {
		l.dispatch(now)
		return
	}
	s.err = fmt.Errorf("%w: quota %q: %w", ErrStoreUnavailable, s.cfg.key, err)
	l.refuseWaiters()
}
