package ratellmiter

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// MemoryStore is a Store that keeps every quota in memory, so that
// several limiters of one process share a quota as limiters of several
// processes do through Redis. It is the reference for what a Store does;
// package redisstore does the same in a Lua script.
//
// The zero value is not usable; create it with NewMemoryStore. It is safe
// for concurrent use. It reads no clock: every time comes from the
// requests, so it works in virtual time too.
//
// A quota nobody syncs for an hour is forgotten, as the Redis store's keys
// expire: the next sync of its key starts it anew, with a new Incarnation.
// The store looks for such quotas at most once a minute, on the time of
// the sync that looks.
type MemoryStore struct {
	mu     sync.Mutex
	quotas map[string]*memQuota
	// sweepAt is the time of a request from which the next Sync forgets
	// the quotas nobody synced for an hour.
	sweepAt int64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{quotas: map[string]*memQuota{}}
}

// Sync applies req to the quota named key; see Store.
func (m *MemoryStore) Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error) {
	if err := ctx.Err(); err != nil {
		return SyncReply{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if req.Now >= m.sweepAt {
		for k, q := range m.quotas {
			if q.last <= req.Now-ackKeep {
				delete(m.quotas, k)
			}
		}
		m.sweepAt = after(req.Now, sweepEvery)
	}
	q := m.quotas[key]
	if q != nil && q.last <= req.Now-ackKeep {
		q = nil // forgotten: the sweep has not come to it yet
	}
	if q == nil {
		q = &memQuota{counts: map[int64]int{}, seen: map[string]memSeen{}, acks: map[string]memAck{},
			incarnation: newIncarnation()}
		m.quotas[key] = q
	}
	return q.sync(req), nil
}

// newIncarnation draws a quota state's incarnation: nonzero, and below
// 2^53 so that the Lua script of package redisstore handles it exactly.
func newIncarnation() uint64 {
	return rand.Uint64N(1<<53-1) + 1
}

// ackKeep is how long a store remembers a limiter's last request after
// its last sync: as long as the Redis store keeps a quota nobody syncs,
// and the memory store too.
const ackKeep = int64(time.Hour)

// sweepEvery is how often the memory store looks for the quotas nobody
// synced for ackKeep.
const sweepEvery = time.Minute

// memAck is what a store remembers of a limiter's numbered requests.
type memAck struct {
	seq   uint64 // the last request applied
	batch uint64 // the last batch of Returned, Used and Events applied
	sec   int64  // the second of seq's grant
	n     int    // seq's grant
	slot  int64  // the first slot of seq's grant, in ms
	gap   int64  // the spacing of seq's grant, in ms
	at    int64  // seq's Now
}

// memSeen is a limiter's last heartbeat and the caps it told with it.
type memSeen struct {
	at  int64
	lim QuotaLimit
}

// memQuota is the shared state of one quota.
type memQuota struct {
	counts      map[int64]int      // tickets per Unix second
	seen        map[string]memSeen // last heartbeat of each limiter, kept an hour
	acks        map[string]memAck  // numbered requests, by limiter
	incarnation uint64
	paused      bool
	overload    bool // the pause, or the last one, was of overloads alone
	probeAt     int64
	epoch       uint64
	holder      string // the probe lease's holder; "" when free
	leaseUntil  int64
	learned     int
	rampSec     int64 // the second of the last resume
	ramping     bool  // seconds ramp up until one issues the full cap
	lastSlot    int64 // the time of the last ticket granted, in ms
	last        int64 // the latest Now of a request
}

func (q *memQuota) sync(r SyncRequest) SyncReply {
	q.last = max(q.last, r.Now)
	for id, a := range q.acks {
		if a.at <= r.Now-ackKeep {
			delete(q.acks, id)
		}
	}
	ack, acked := q.acks[r.ID]
	// A numbered request not above the last one applied came late, after
	// a later one: nothing of it is applied.
	stale := r.Seq != 0 && acked && r.Seq <= ack.seq
	switch {
	case stale:
		r.Want = 0
	case r.Leaving:
		// No longer live from now on, and its caps forgotten; kept
		// until it is forgotten as any other.
		q.seen[r.ID] = memSeen{at: r.Now - int64(r.LiveTTL)}
	default:
		q.seen[r.ID] = memSeen{at: r.Now, lim: r.Limit}
	}
	// Live are the heartbeats within LiveTTL of this request's time.
	// Requests may come in another order than their times, so those
	// older are forgotten only after an hour, as the Redis store does.
	// The caps in force are the least of those the live limiters told
	// with their last heartbeat, and of the request's own.
	live, lim := 0, r.Limit
	for id, s := range q.seen {
		switch {
		case s.at <= r.Now-ackKeep:
			delete(q.seen, id)
		case s.at > r.Now-int64(r.LiveTTL):
			live++
			lim = leastCaps(lim, s.lim)
		}
	}
	lim = leastCaps(lim, lim) // zero when none, the ramp at least 1
	oldest := r.Sec - 59
	batch := r.Seq
	if r.Retry != 0 {
		batch = r.Retry
		if !stale && acked && ack.seq >= r.Retry && ack.n > 0 {
			// The reply of the last request applied was lost: its grant
			// was never issued.
			q.takeBack(ack.sec, ack.n, oldest)
		}
	}
	if !stale {
		q.apply(r, oldest, r.Seq == 0 || !acked || batch > ack.batch)
	}
	window := 0
	for s, n := range q.counts {
		if s < oldest-1 {
			delete(q.counts, s)
		} else if s >= oldest {
			window += n
		}
	}
	if !stale {
		q.leaseProbe(r, lim, window)
	}
	granted, slot, gap := q.grant(r, lim, window)
	window += granted
	if r.Seq != 0 && !stale {
		q.acks[r.ID] = memAck{seq: r.Seq, batch: max(batch, ack.batch), sec: r.Sec, n: granted,
			slot: slot, gap: gap, at: r.Now}
	}
	if stale && r.Seq == ack.seq {
		// The last request applied, sent again by a client that lost its
		// reply: its grant, counted already, is told again.
		granted, slot, gap = ack.n, ack.slot, ack.gap
	}
	var last uint64
	if stale {
		last = ack.seq
	}
	return SyncReply{
		Granted:     granted,
		NotBefore:   slot * 1e6,
		Spacing:     gap * 1e6,
		Paused:      q.paused,
		Overload:    q.overload,
		ProbeAt:     q.probeAt,
		Epoch:       q.epoch,
		Incarnation: q.incarnation,
		Probe:       q.paused && q.holder == r.ID && q.leaseUntil > r.Now,
		Learned:     q.learned,
		Live:        live,
		Window:      window,
		Limit:       lim,
		LastSeq:     last,
	}
}

// leastCaps returns the elementwise least of a and b, with a ramp's start
// and step of at least 1. Caps without a positive PerSecond and PerMinute
// are none: the other's are returned, or zero caps when neither states
// any.
func leastCaps(a, b QuotaLimit) QuotaLimit {
	switch {
	case !a.stated() && !b.stated():
		return QuotaLimit{}
	case !b.stated():
		b = a
	case !a.stated():
		a = b
	}
	return QuotaLimit{
		PerSecond: min(a.PerSecond, b.PerSecond),
		PerMinute: min(a.PerMinute, b.PerMinute),
		RampStart: max(1, min(a.RampStart, b.RampStart)),
		RampStep:  max(1, min(a.RampStep, b.RampStep)),
	}
}

// stated reports whether c states caps: a positive PerSecond and
// PerMinute.
func (c QuotaLimit) stated() bool {
	return c.PerSecond > 0 && c.PerMinute > 0
}

// apply applies what r tells: tickets used and handed back and events
// unless they were applied already (not news), then the learned limit.
func (q *memQuota) apply(r SyncRequest, oldest int64, news bool) {
	if news {
		q.applyNews(r, oldest)
	}
	if r.SetLearned {
		q.learned = max(0, r.Learned)
	}
}

// leaseProbe gives r's sender the probe lease if it asks for it, the
// quota is paused, its probe is due, no other limiter holds an unexpired
// lease, and the second of r has room for one more ticket under the caps
// in force lim (window counts the sixty seconds that end with it): the
// canary the holder may send is a ticket of that second or a later one,
// in which nothing is granted while paused.
func (q *memQuota) leaseProbe(r SyncRequest, lim QuotaLimit, window int) {
	if !r.WantProbe || !q.paused || r.Now < q.probeAt || q.leasedToOther(r) {
		return
	}
	if lim.stated() && (q.counts[r.Sec] >= lim.PerSecond || window >= lim.PerMinute) {
		return
	}
	q.holder, q.leaseUntil = r.ID, after(r.Now, r.ProbeTTL)
}

// applyNews applies the tickets used and handed back and the events of r.
func (q *memQuota) applyNews(r SyncRequest, oldest int64) {
	for _, c := range r.Used {
		if c.Sec >= oldest && c.N > 0 {
			q.counts[c.Sec] += c.N
		}
	}
	for _, c := range r.Returned {
		q.takeBack(c.Sec, c.N, oldest)
	}
	// The epoch the sender saw, if it saw it in this incarnation.
	epoch, known := r.Epoch, r.Incarnation == q.incarnation
	for _, e := range r.Events {
		if q.event(r, e, epoch, known) {
			epoch, known = q.epoch, true
		}
	}
}

// takeBack takes n tickets off second sec's count, never below zero, if
// sec is still in the window that starts at oldest.
func (q *memQuota) takeBack(sec int64, n int, oldest int64) {
	if c, ok := q.counts[sec]; ok && sec >= oldest && n > 0 {
		q.counts[sec] = max(0, c-n)
	}
}

// leasedToOther reports whether another limiter holds an unexpired probe
// lease.
func (q *memQuota) leasedToOther(r SyncRequest) bool {
	return q.holder != "" && q.holder != r.ID && q.leaseUntil > r.Now
}

// event applies one event of r; epoch is the pause epoch its sender has
// seen, known whether it saw it in this incarnation. It reports whether
// the event started a pause or a resume. A pause is one of overloads
// alone while every refusal told in it says so, whoever told it.
func (q *memQuota) event(r SyncRequest, e QuotaEvent, epoch uint64, known bool) bool {
	switch e.Kind {
	case QuotaRefused:
		if !q.paused {
			if known && epoch < q.epoch {
				return false // a straggler of a pause that is over
			}
			q.paused, q.probeAt, q.overload = true, e.ProbeAt, e.Overload
			q.holder, q.leaseUntil = "", 0
			q.epoch++
			return true
		}
		q.overload = q.overload && e.Overload
		switch {
		case q.holder == r.ID:
			q.holder, q.leaseUntil = "", 0 // the probe failed
			q.probeAt = e.ProbeAt
		case !q.leasedToOther(r):
			q.probeAt = max(q.probeAt, e.ProbeAt)
		}
	case QuotaResumed:
		if !q.paused || !known || epoch != q.epoch || q.leasedToOther(r) {
			return false
		}
		q.paused = false
		q.holder, q.leaseUntil = "", 0
		q.rampSec, q.ramping = r.Sec, true
		q.epoch++
		return true
	}
	return false
}

// grant leases up to r.Want tickets of second r.Sec, each on a time slot
// of its own: slots are spread evenly across the second over every
// limiter, at the second's cap in lim, the caps in force (the ramp's
// allowance after a resume). It returns the count, the first slot and the
// spacing, in ms. Nothing is granted to a request that states no caps.
func (q *memQuota) grant(r SyncRequest, lim QuotaLimit, window int) (n int, slot, gap int64) {
	if q.paused || r.Want <= 0 || !r.Limit.stated() {
		return 0, 0, 0
	}
	allow := lim.PerSecond
	if q.ramping {
		prev := 0
		if r.Sec-1 >= q.rampSec {
			prev = q.counts[r.Sec-1]
		}
		// A ramp issues at least one ticket a second, and adds at
		// least one: a request saying less is read as saying one.
		allow = min(max(lim.RampStart, prev+max(lim.RampStep, 1), 1), allow)
	}
	n = min(r.Want, allow-q.counts[r.Sec], lim.PerMinute-window)
	gap = 1000 / int64(allow)
	slot = max(r.Now/1e6, r.Sec*1000)
	if q.lastSlot > 0 {
		slot = max(slot, q.lastSlot+gap)
	}
	end := r.Sec*1000 + 999 // the second's last millisecond
	switch {
	case slot > end:
		n = 0
	case gap > 0:
		n = min(int64ToInt((end-slot)/gap+1), n)
	}
	if n <= 0 {
		return 0, 0, 0
	}
	q.counts[r.Sec] += n
	q.lastSlot = slot + int64(n-1)*gap
	if q.ramping && q.counts[r.Sec] >= lim.PerSecond {
		q.ramping = false
	}
	return n, slot, gap
}

// int64ToInt converts v, clamping it to the int range.
func int64ToInt(v int64) int {
	return int(max(min(v, int64(^uint(0)>>1)), -int64(^uint(0)>>1)-1))
}
