package ratellmiter

import (
	"context"
	"errors"
	"time"
)

// ErrStoreUnavailable is returned, wrapped around the store's error, by
// Acquire (and to every waiter) of a limiter created WithStore and
// FailClosed while its Store cannot be reached.
var ErrStoreUnavailable = errors.New("ratellmiter: quota store unavailable")

// A Store shares one quota between limiters in several processes: every
// process that calls an API with the same key creates its limiter WithStore,
// naming the same Store (a Redis server, say) and the same quota key.
//
// Through the store the limiters count the tickets of each second and of
// the last sixty seconds summed over every process, share the pause that
// follows a rate limit, let one process at a time probe the server, and
// share the limit learned from pauses. A limiter talks to its
// store from a goroutine of its own, never on the ticket path: it leases
// small batches of the current second's tickets and issues them locally.
//
// The in-memory MemoryStore documents the semantics; package redisstore
// implements them with Redis. Implementations must be safe for concurrent
// use.
type Store interface {
	// Sync applies req to the quota named key and returns the shared
	// state, in one atomic step: heartbeat, tickets handed back or
	// counted, events, the probe lease, the learned limit, and finally the
	// grant of up to req.Want tickets in second req.Sec. See SyncRequest
	// and SyncReply for each field's meaning. It must honour ctx. A
	// panic of Sync is taken for its error (the store is unavailable,
	// and the failure policy applies), as it runs on a goroutine of the
	// Monitor.
	Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error)
}

// SyncRequest is what one limiter tells its Store in a Sync. Times are
// Unix nanoseconds of the limiter's clock: the processes sharing a quota
// must have clocks that agree to well within a second. A limiter's clock
// is the wall clock at its creation plus the monotonic time since: a step
// of the wall clock after the limiter was created (NTP setting a clock
// that was off at boot, say) is not followed, and the limiter stays as far
// off as the clock was.
type SyncRequest struct {
	// ID names the limiter among those sharing the key; unique per
	// limiter (WithProcessID, or host, pid and a random suffix).
	ID string
	// Now is the time of the request: the heartbeat, and the clock for
	// the probe lease and the pause.
	Now int64
	// Sec is the Unix second the tickets asked for are in.
	Sec int64
	// Want is how many tickets of Sec the limiter asks for; 0 asks for
	// none (a heartbeat, or events only).
	Want int
	// Limit holds the limiter's caps. The store remembers them with the
	// heartbeat, and checks every grant against the caps in force: the
	// elementwise least of the caps of the limiters that are live (whose
	// last heartbeat is within LiveTTL of Now, see SyncReply.Live), these
	// included. So limiters of different requests per minute sharing a
	// key (during a deploy that changes it, or when one limiter's limit
	// was lowered and another's not) are held to the lowest, and the caps
	// go back up once the limiter that told it is no longer live. Caps
	// without a positive PerSecond and PerMinute are none: they do not
	// count, and nothing is granted to their request.
	Limit QuotaLimit
	// Returned lists leased tickets the limiter did not issue; a store
	// takes them off the counts of their seconds (never below zero) as
	// long as those seconds are within the last sixty.
	Returned []SecondCount
	// Used lists tickets issued without a lease (while the store was
	// unreachable, or as a canary), and, once, those issued in the last
	// sixty seconds when the store's Incarnation changed (it lost their
	// counts): a store adds them to their seconds' counts, whatever the
	// caps, so the window does not forget them.
	Used []SecondCount
	// Events are the pauses and resumes the limiter saw, in order.
	Events []QuotaEvent
	// Seq numbers the limiter's requests, so that the store applies each
	// Returned, Used and Events once: every request's Seq is above the
	// one before, and a limiter starts from its creation time in
	// microseconds, so that one created later with the same ID starts
	// above its predecessor. A store remembers, for an hour after its
	// last sync, each ID's last Seq applied and what it granted; a
	// request whose Seq is not above it came late and is not applied
	// (nothing is granted), except that one whose Seq is the last
	// applied, sent twice by a client that retries after a lost reply,
	// gets that grant again in its reply; either way the reply says the
	// last Seq applied (SyncReply.LastSeq). A limiter told a LastSeq
	// above its request's Seq finds its numbering below that of an
	// earlier limiter with its ID (one created on a host whose clock was
	// ahead): it numbers its requests on from LastSeq, and tells again
	// what the request not applied told. 0: not numbered, always
	// applied.
	Seq uint64
	// Retry, when not 0, says that Returned, Used and Events were first
	// sent by the request numbered Retry, and that the replies of it
	// and of every request since were lost (the sync failed, though the
	// store may have applied it). The store applies them only if it has
	// applied none of those requests, and takes back the tickets it
	// granted to the last of them it applied: that grant never reached
	// the limiter.
	Retry uint64
	// Epoch is the pause epoch the limiter last saw in a SyncReply. A
	// pause reported by a limiter that had not seen the latest resume is
	// taken for a straggler of the pause before, and ignored.
	Epoch uint64
	// Incarnation is the store's Incarnation that Epoch was seen in; 0
	// before the limiter's first reply. Epochs of another incarnation
	// say nothing about the store's: the store lost its state since (a
	// restart without persistence, a failover, an expired key), so a
	// refusal is taken as fresh and pauses the quota, and a resume is
	// ignored. A refusal is also taken as fresh when Epoch is above the
	// store's epoch: the store lost the writes that counted it.
	Incarnation uint64
	// WantProbe asks for the probe lease: the quota is paused, its probe
	// is due, and the limiter would probe. The store grants it only while
	// the request's second has room for one more ticket under the caps in
	// force (its count below the per-second cap, the sixty-second window
	// below the per-minute one): the canary the holder may send counts in
	// that second or a later one, and tickets leased before the pause may
	// have filled it.
	WantProbe bool
	// ProbeTTL is how long a granted probe lease lasts unless its holder
	// reports the probe's outcome first.
	ProbeTTL time.Duration
	// LiveTTL is how long a heartbeat counts a limiter as live.
	LiveTTL time.Duration
	// Leaving says that the limiter is ending (it closed, or its Monitor
	// stopped) and will not sync again: the store takes its heartbeat as
	// LiveTTL old and forgets its caps, so that it no longer counts as
	// live (for requests at Now or later) and its caps no longer hold the
	// quota. The rest of the request is applied as usual, and its Seq is
	// remembered as any other's, so that a request of the limiter that
	// comes later, late, is not applied. A store that does not know
	// Leaving keeps counting the limiter until LiveTTL after its last
	// request, as it does a limiter that ends without a word.
	Leaving bool
	// SetLearned asks the store to take Learned as the shared learned
	// limit (0: none).
	SetLearned bool
	Learned    int
}

// QuotaLimit holds the caps of a quota in tickets, as the limiter
// computes them from its requests per minute.
type QuotaLimit struct {
	PerSecond int // tickets in any one second, ceil(PerMinute/60)
	PerMinute int // tickets in any sixty seconds
	RampStart int // after a resume: the least a second may issue (at least 1)
	RampStep  int // after a resume: how much a second may add to the previous one (at least 1)
}

// SecondCount is a number of tickets in one Unix second.
type SecondCount struct {
	Sec int64 // the Unix second
	N   int   // tickets issued in it
}

// QuotaEventKind says what a QuotaEvent reports.
type QuotaEventKind uint8

const (
	// QuotaRefused reports that the server refused a call: the quota
	// pauses, or, when paused already and no other limiter holds an
	// unexpired probe lease, no probe comes before ProbeAt. From the probe
	// lease's holder it reports a failed probe: the lease is released and
	// the next probe is at ProbeAt.
	QuotaRefused QuotaEventKind = iota + 1
	// QuotaResumed reports that a probe found the server accepting
	// requests: the quota resumes and the ramp starts again. It is taken
	// from the probe lease's holder, or from anyone while no unexpired
	// lease is held.
	QuotaResumed
)

// QuotaEvent is a pause or resume a limiter reports to its Store.
type QuotaEvent struct {
	Kind    QuotaEventKind // a pause or a resume
	ProbeAt int64          // QuotaRefused: no probe before then (Unix ns)
	// Overload, with QuotaRefused, says that the limiter's pause is, as
	// far as it knows, one of overloads alone: it began with an
	// overloaded server's refusal (a 529, a 503 with a hint), and no rate
	// limit came in it but a canary's (a failed probe). A refusal that
	// starts the quota's pause makes it a pause of overloads alone if it
	// says so; one that does not say so, told while the quota is paused,
	// makes the pause one for the rate (see SyncReply.Overload). A
	// limiter that does not know this field says false: its refusals are
	// rate limits.
	Overload bool
}

// SyncReply is the shared state of a quota after a Sync.
type SyncReply struct {
	// Granted is how many tickets of the request's second the limiter
	// may issue: at most Want, and within the second's cap (the ramp's
	// allowance after a resume) and the sixty-second window of the caps
	// in force (Limit), both summed over every limiter. Nothing is
	// granted while paused.
	Granted int
	// NotBefore is the time of the first granted ticket's slot and
	// Spacing the time between slots (Unix ns; milliseconds apart at
	// most): the granted tickets are issued no sooner than their slots,
	// so the quota's tickets are spread evenly across the second over
	// every limiter.
	NotBefore int64
	Spacing   int64
	// Paused is whether the quota is paused; ProbeAt is when its next
	// probe is due (Unix ns).
	Paused  bool
	ProbeAt int64
	// Overload says that the quota's pause, or when it is not paused its
	// last one, was one of overloads alone: every refusal told in it said
	// so (QuotaEvent.Overload). Its resume is no base for learning: a
	// limiter does not lower its limit for a pause soon after it. A store
	// that does not know this field says false: every pause is one for
	// the rate, a limiter's own of overloads alone included.
	Overload bool
	// Epoch counts the pauses and resumes so far.
	Epoch uint64
	// Incarnation names the store's state of the quota: a random nonzero
	// number drawn when the state is created, which changes when the
	// store loses it. A store that cannot tell returns 0.
	Incarnation uint64
	// Probe is whether the requesting limiter holds the probe lease.
	Probe bool
	// Learned is the shared learned limit; 0 when there is none.
	Learned int
	// Live is the number of limiters whose last heartbeat is within
	// LiveTTL, the requesting one included.
	Live int
	// Window is the number of tickets counted in the sixty seconds that
	// end with the request's second, after the grant.
	Window int
	// Limit is the caps in force, which the grant was checked against:
	// the elementwise least of the request's caps and those the live
	// limiters told with their last heartbeat (see SyncRequest.Limit).
	// Zero when none of them states caps.
	Limit QuotaLimit
	// LastSeq, when not 0, says that the request was numbered but its
	// Seq was not above the last one the store applied for its ID,
	// which LastSeq is: nothing of the request was applied (a request
	// sent twice, numbered LastSeq, is told its grant again). A store
	// that applied the request, or does not know this field, says 0.
	// A limiter told a LastSeq above its request's Seq (it numbers each
	// request above the one before) finds its numbering below that of
	// an earlier limiter with its ID: it numbers its next request above
	// LastSeq, and tells in it, as news, what this one told.
	LastSeq uint64
}
