// Package storetest is the specification of a ratellmiter.Store as a test
// suite: every implementation runs it, so the memory store and the Redis
// store are held to the same semantics.
package storetest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	rl "github.com/ratellmiter/ratellmiter"
)

// Base is the time the suite's requests start at: a whole second, Unix ns.
const Base = int64(1_700_000_000) * int64(time.Second)

const sec = int64(time.Second)

// limit600 is 600 RPM: 10 a second, ramping from 5 by 3.
var limit600 = rl.QuotaLimit{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3}

// req returns a request of id at now for want tickets of now's second.
func req(id string, now int64, want int) rl.SyncRequest {
	return rl.SyncRequest{
		ID: id, Now: now, Sec: now / sec, Want: want, Limit: limit600,
		ProbeTTL: 5 * time.Second, LiveTTL: 3 * time.Second,
	}
}

// Run runs the suite against the stores newStore returns. Each test uses
// keys of its own, so one store may serve them all.
func Run(t *testing.T, newStore func(t *testing.T) rl.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *client)
	}{
		{"per-second cap is summed over limiters", perSecondCap},
		{"slots spread a second's tickets evenly", slotsSpread},
		{"per-minute cap is summed over sixty seconds", perMinuteCap},
		{"returned tickets can be granted again", returnedTickets},
		{"used tickets are counted whatever the caps", usedTickets},
		{"a refusal pauses every limiter", refusalPauses},
		{"a straggler's refusal after a resume is ignored", stragglerIgnored},
		{"a pause is of overloads alone while every refusal in it says so", overloadsAlone},
		{"the incarnation names the state while it lives", incarnationStays},
		{"a refusal from a limiter that never saw this state is fresh", otherIncarnationRefusal},
		{"a resume from a limiter that never saw this state is ignored", otherIncarnationResume},
		{"a refusal from a limiter ahead of the store's epoch is fresh", epochAhead},
		{"a request sent again after its reply was lost is applied once", sentAgain},
		{"a request sent twice is told its grant again, counted once", sentTwice},
		{"handed back tickets sent again are taken off once", returnedAgain},
		{"a request that comes after a later one is not applied", staleRequest},
		{"events sent again are applied once", eventsAgain},
		{"a request not applied for its number is told the last one applied", lastSeqTold},
		{"one probe lease at a time, until it expires", probeLease},
		{"the holder's failed probe releases the lease", failedProbe},
		{"a probe lease of the longest TTL is held", hugeProbeTTL},
		{"no probe lease in a second the caps leave no room in", probeLeaseNeedsRoom},
		{"a resume ramps the seconds up", resumeRamps},
		{"a ramp of no start and no step still grows by one a second", zeroRamp},
		{"heartbeats count live limiters", heartbeats},
		{"live limiters are counted at the request's own time", heartbeatsOutOfOrder},
		{"the learned limit is shared", learnedShared},
		{"a grant is held to the least per-second cap of the live limiters", mixedPerSecond},
		{"the least caps hold while their limiter's heartbeat does", mixedHeartbeatKeepsCaps},
		{"the window is held to the least per-minute cap of the live limiters", mixedPerMinute},
		{"a resume ramps up by the least ramp of the live limiters", mixedRamp},
		{"slots are spaced for the least per-second cap", mixedSlots},
		{"a limiter's caps are its last ones", mixedRaised},
		{"the requester's own caps count, a late request's are not kept", mixedOwnIncluded},
		{"the caps in force are those of the limiters live at the request's time", mixedOutOfOrder},
		{"a limiter that leaves no longer counts, nor do its caps", mixedLeaving},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &client{t: t, s: newStore(t), key: fmt.Sprintf("storetest-%d-%d", time.Now().UnixNano(), i)})
		})
	}
}

// client syncs one key and fails the test on an error.
type client struct {
	t   *testing.T
	s   rl.Store
	key string
	inc uint64 // the incarnation of the last reply
}

// seen makes r say its sender saw epoch in the store's incarnation.
func (c *client) seen(r *rl.SyncRequest, epoch uint64) {
	r.Epoch, r.Incarnation = epoch, c.inc
}

// askProbe asks for the probe lease as id at time at, having seen the
// first pause, and reports whether id holds it.
func (c *client) askProbe(id string, at int64) bool {
	c.t.Helper()
	r := req(id, at, 0)
	r.WantProbe = true
	c.seen(&r, 1)
	return c.sync(r).Probe
}

func (c *client) sync(r rl.SyncRequest) rl.SyncReply {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rep, err := c.s.Sync(ctx, c.key, r)
	if err != nil {
		c.t.Fatalf("Sync(%+v): %v", r, err)
	}
	c.inc = rep.Incarnation
	return rep
}

func expect[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func perSecondCap(t *testing.T, c *client) {
	expect(t, "a's grant", c.sync(req("a", Base, 6)).Granted, 6)
	expect(t, "b's grant, the rest of the second", c.sync(req("b", Base, 6)).Granted, 4)
	expect(t, "a's grant in a full second", c.sync(req("a", Base+sec/2, 1)).Granted, 0)
	expect(t, "b's grant in the next second", c.sync(req("b", Base+sec, 3)).Granted, 3)
}

func slotsSpread(t *testing.T, c *client) {
	a := c.sync(req("a", Base, 3))
	expect(t, "first slot", a.NotBefore, Base)
	expect(t, "spacing", a.Spacing, 100*int64(time.Millisecond))
	b := c.sync(req("b", Base+10*int64(time.Millisecond), 2))
	expect(t, "b's first slot follows a's last", b.NotBefore, Base+300*int64(time.Millisecond))
	late := c.sync(req("a", Base+850*int64(time.Millisecond), 5))
	expect(t, "slots left in the second", late.Granted, 2)
	expect(t, "late slot", late.NotBefore, Base+850*int64(time.Millisecond))
}

func perMinuteCap(t *testing.T, c *client) {
	lim := rl.QuotaLimit{PerSecond: 10, PerMinute: 25, RampStart: 10, RampStep: 10}
	got := 0
	for i := range int64(5) {
		r := req("a", Base+i*sec, 10)
		r.Limit = lim
		got += c.sync(r).Granted
	}
	expect(t, "granted in five seconds", got, 25)
	r := req("b", Base+59*sec, 10)
	r.Limit = lim
	expect(t, "b at second 59", c.sync(r).Granted, 0)
	r = req("b", Base+60*sec, 10)
	r.Limit = lim
	rep := c.sync(r)
	expect(t, "b at second 60, when second 0 left the window", rep.Granted, 10)
	expect(t, "window", rep.Window, 25)
}

func returnedTickets(t *testing.T, c *client) {
	expect(t, "a's grant", c.sync(req("a", Base, 10)).Granted, 10)
	r := req("a", Base+sec, 0)
	r.Returned = []rl.SecondCount{{Sec: Base / sec, N: 4}}
	expect(t, "window after the return", c.sync(r).Window, 6)
	r = req("b", Base+sec, 10)
	r.Returned = []rl.SecondCount{{Sec: Base / sec, N: 99}}
	expect(t, "window never below zero", c.sync(r).Window, 10)
}

func usedTickets(t *testing.T, c *client) {
	expect(t, "a's grant", c.sync(req("a", Base, 10)).Granted, 10)
	r := req("a", Base+sec/2, 0)
	r.Used = []rl.SecondCount{{Sec: Base / sec, N: 2}}
	expect(t, "window", c.sync(r).Window, 12)
}

func refusalPauses(t *testing.T, c *client) {
	r := req("a", Base, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 2*sec}}
	rep := c.sync(r)
	expect(t, "paused", rep.Paused, true)
	expect(t, "probe at", rep.ProbeAt, Base+2*sec)
	expect(t, "epoch", rep.Epoch, uint64(1))
	expect(t, "granted while paused", rep.Granted, 0)
	rep = c.sync(req("b", Base+sec/2, 3))
	expect(t, "b sees the pause", rep.Paused, true)
	expect(t, "b's grant", rep.Granted, 0)
	r = req("b", Base+sec, 0)
	c.seen(&r, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 5*sec}}
	expect(t, "a later hint pushes the probe", c.sync(r).ProbeAt, Base+5*sec)
}

func stragglerIgnored(t *testing.T, c *client) {
	r := req("a", Base, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}, {Kind: rl.QuotaResumed}}
	rep := c.sync(r)
	expect(t, "paused after pause and resume", rep.Paused, false)
	expect(t, "epoch", rep.Epoch, uint64(2))
	r = req("b", Base+sec, 0)
	c.seen(&r, 1) // b never saw the resume
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 3*sec}}
	expect(t, "paused by the straggler", c.sync(r).Paused, false)
	c.seen(&r, 2)
	expect(t, "paused by a fresh refusal", c.sync(r).Paused, true)
}

func overloadsAlone(t *testing.T, c *client) {
	refused := func(id string, now int64, epoch uint64, overload bool) rl.SyncReply {
		r := req(id, now, 0)
		c.seen(&r, epoch)
		r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: now + sec, Overload: overload}}
		return c.sync(r)
	}
	resumed := func(id string, now int64, epoch uint64) rl.SyncReply {
		r := req(id, now, 0)
		c.seen(&r, epoch)
		r.Events = []rl.QuotaEvent{{Kind: rl.QuotaResumed}}
		return c.sync(r)
	}
	expect(t, "before any pause", c.sync(req("a", Base, 0)).Overload, false)
	rep := refused("a", Base, 0, true)
	expect(t, "paused by an overload", rep.Paused, true)
	expect(t, "a pause of overloads alone", rep.Overload, true)
	expect(t, "as b sees it", c.sync(req("b", Base+sec/4, 0)).Overload, true)
	expect(t, "after another overload", refused("b", Base+sec/2, 1, true).Overload, true)
	rep = resumed("a", Base+sec, 1)
	expect(t, "resumed", rep.Paused, false)
	expect(t, "the last pause, of overloads alone", rep.Overload, true)
	expect(t, "a straggler's rate limit", refused("b", Base+2*sec, 1, false).Overload, true)

	rep = refused("b", Base+3*sec, 2, false)
	expect(t, "paused by a rate limit", rep.Paused, true)
	expect(t, "a pause for the rate", rep.Overload, false)
	expect(t, "after an overload in it", refused("a", Base+4*sec, 3, true).Overload, false)
	expect(t, "once resumed", resumed("a", Base+5*sec, 3).Overload, false)

	expect(t, "paused by an overload again", refused("a", Base+6*sec, 4, true).Overload, true)
	expect(t, "a rate limit in the pause", refused("b", Base+7*sec, 5, false).Overload, false)
	expect(t, "an overload after it", refused("a", Base+8*sec, 5, true).Overload, false)
	expect(t, "once resumed, the last pause", resumed("a", Base+9*sec, 5).Overload, false)
}

func probeLease(t *testing.T, c *client) {
	r := req("a", Base, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}}
	c.sync(r)
	expect(t, "lease before the probe is due", c.askProbe("b", Base+sec/2), false)
	expect(t, "b takes the lease", c.askProbe("b", Base+sec), true)
	expect(t, "c while b holds it", c.askProbe("c", Base+2*sec), false)
	expect(t, "b still holds it", c.sync(req("b", Base+3*sec, 0)).Probe, true)
	r = req("c", Base+3*sec, 0)
	c.seen(&r, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaResumed}}
	expect(t, "c cannot resume while b holds the lease", c.sync(r).Paused, true)
	expect(t, "c takes the expired lease", c.askProbe("c", Base+6*sec), true)
	expect(t, "b lost it", c.sync(req("b", Base+6*sec, 0)).Probe, false)
	r = req("c", Base+6*sec, 0)
	c.seen(&r, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaResumed}}
	rep := c.sync(r)
	expect(t, "the holder resumes", rep.Paused, false)
	expect(t, "no lease once resumed", rep.Probe, false)
}

func hugeProbeTTL(t *testing.T, c *client) {
	r := req("a", Base, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}}
	c.sync(r)
	r = req("b", Base+sec, 0)
	r.WantProbe, r.ProbeTTL = true, time.Duration(math.MaxInt64)
	c.seen(&r, 1)
	expect(t, "b takes the lease", c.sync(r).Probe, true)
	// A store forgets a quota nobody syncs for an hour: b keeps it
	// alive, and holds the lease a day on.
	for at := Base + 50*60*sec; at < Base+24*3600*sec; at += 50 * 60 * sec {
		c.sync(req("b", at, 0))
	}
	expect(t, "b holds it a day on", c.sync(req("b", Base+24*3600*sec, 0)).Probe, true)
	expect(t, "c while b holds it", c.askProbe("c", Base+2*sec), false)
}

func probeLeaseNeedsRoom(t *testing.T, c *client) {
	expect(t, "b's grant, the whole second", c.sync(req("b", Base, 10)).Granted, 10)
	r := req("a", Base+sec/2, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec/2}}
	c.sync(r)
	expect(t, "lease in the full second", c.askProbe("a", Base+sec*3/4), false)
	expect(t, "lease in the next second", c.askProbe("a", Base+sec), true)

	// The probe fails, and tickets used without a lease fill the window.
	r = req("a", Base+2*sec, 0)
	c.seen(&r, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 3*sec}}
	r.Used = []rl.SecondCount{{Sec: Base/sec + 2, N: 590}}
	rep := c.sync(r)
	expect(t, "lease released", rep.Probe, false)
	expect(t, "window", rep.Window, 600)
	expect(t, "lease while the window is full", c.askProbe("a", Base+3*sec), false)
	expect(t, "lease once b's second left the window", c.askProbe("a", Base+60*sec), true)
}

func failedProbe(t *testing.T, c *client) {
	r := req("a", Base, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}}
	c.sync(r)
	expect(t, "a takes the lease", c.askProbe("a", Base+sec), true)
	r = req("a", Base+2*sec, 0)
	c.seen(&r, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 4*sec}}
	rep := c.sync(r)
	expect(t, "lease released", rep.Probe, false)
	expect(t, "next probe", rep.ProbeAt, Base+4*sec)
	expect(t, "b takes the released lease", c.askProbe("b", Base+4*sec), true)
}

func resumeRamps(t *testing.T, c *client) {
	expect(t, "tickets per second after the resume", rampAfterResume(c, limit600), "[5 8 10 10]")
}

func zeroRamp(t *testing.T, c *client) {
	lim := limit600
	lim.RampStart, lim.RampStep = 0, 0
	expect(t, "tickets per second after the resume", rampAfterResume(c, lim), "[1 2 3 4]")
}

// rampAfterResume pauses and resumes the quota, then has two limiters
// want 10 tickets in each of the next four seconds, and returns how many
// the store granted them each second.
func rampAfterResume(c *client, lim rl.QuotaLimit) string {
	at := func(id string, now int64, want int) rl.SyncRequest {
		r := req(id, now, want)
		r.Limit = lim
		return r
	}
	r := at("a", Base, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base}, {Kind: rl.QuotaResumed}}
	c.sync(r)
	var got []int
	for i := range int64(4) {
		got = append(got, c.sync(at("a", Base+i*sec, 10)).Granted+c.sync(at("b", Base+i*sec, 10)).Granted)
	}
	return fmt.Sprint(got)
}

func heartbeats(t *testing.T, c *client) {
	c.sync(req("a", Base, 0))
	c.sync(req("b", Base+sec, 0))
	expect(t, "live", c.sync(req("c", Base+2*sec, 0)).Live, 3)
	expect(t, "live once a's heartbeat is 3 s old", c.sync(req("c", Base+3*sec, 0)).Live, 2)
}

// heartbeatsOutOfOrder: requests reach the store in another order than
// their times (limiters build them before they are sent, on clocks that
// differ a little): each reply counts the heartbeats live at its own
// request's time, whatever a later request said before it.
func heartbeatsOutOfOrder(t *testing.T, c *client) {
	c.sync(req("a", Base, 0))
	expect(t, "live at 3.1 s, when a's heartbeat is stale", c.sync(req("b", Base+3100*int64(time.Millisecond), 0)).Live, 1)
	expect(t, "live at 2.9 s, when a's heartbeat is not", c.sync(req("c", Base+2900*int64(time.Millisecond), 0)).Live, 3)
}

func learnedShared(t *testing.T, c *client) {
	r := req("a", Base, 0)
	r.SetLearned, r.Learned = true, 300
	expect(t, "a's reply", c.sync(r).Learned, 300)
	expect(t, "b sees it", c.sync(req("b", Base+sec, 0)).Learned, 300)
	r.SetLearned, r.Learned = true, 0
	expect(t, "cleared", c.sync(r).Learned, 0)
}

func incarnationStays(t *testing.T, c *client) {
	first := c.sync(req("a", Base, 0)).Incarnation
	if first == 0 {
		t.Fatal("incarnation 0")
	}
	r := req("b", Base+sec, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 2*sec}}
	expect(t, "incarnation after a pause", c.sync(r).Incarnation, first)
}

// pauseAndResume makes the quota's epoch 2: a pause, then a resume.
func pauseAndResume(c *client) {
	r := req("a", Base, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}, {Kind: rl.QuotaResumed}}
	c.sync(r)
}

func otherIncarnationRefusal(t *testing.T, c *client) {
	pauseAndResume(c)
	// b saw epoch 1 of a state the store has lost since (or of none):
	// its refusal is not a straggler of this state's pauses.
	for _, inc := range []uint64{c.inc + 1, 0} {
		r := req("b", Base+sec, 0)
		r.Epoch, r.Incarnation = 1, inc
		r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 30*sec}}
		rep := c.sync(r)
		expect(t, fmt.Sprintf("paused by a refusal seen in incarnation %d", inc), rep.Paused, true)
		expect(t, "probe at", rep.ProbeAt, Base+30*sec)
		r = req("a", Base+sec, 0)
		c.seen(&r, rep.Epoch)
		r.Events = []rl.QuotaEvent{{Kind: rl.QuotaResumed}}
		c.sync(r)
	}
}

func otherIncarnationResume(t *testing.T, c *client) {
	r := req("a", Base, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}}
	c.sync(r)
	r = req("b", Base+sec, 0)
	r.Epoch, r.Incarnation = 1, c.inc+1
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaResumed}}
	expect(t, "paused after a resume seen in another incarnation", c.sync(r).Paused, true)
	r = req("a", Base+2*sec, 0)
	c.seen(&r, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaResumed}}
	expect(t, "resumed by a, which saw the pause", c.sync(r).Paused, false)
	// A refusal and a resume in one request: the resume is of the pause
	// the refusal started.
	r = req("c", Base+3*sec, 0)
	r.Epoch, r.Incarnation = 5, c.inc+1
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 3*sec}, {Kind: rl.QuotaResumed}}
	rep := c.sync(r)
	expect(t, "paused after a refusal and a resume from another incarnation", rep.Paused, false)
	expect(t, "epoch", rep.Epoch, uint64(4))
}

func epochAhead(t *testing.T, c *client) {
	c.sync(req("a", Base, 0))
	// b saw epoch 2 of this incarnation; the store says 0: it lost the
	// writes that counted the pause and the resume.
	r := req("b", Base+sec, 0)
	c.seen(&r, 2)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + 30*sec}}
	expect(t, "paused", c.sync(r).Paused, true)
}

// numbered returns a request of id at now for want tickets, numbered seq
// and, when retry is not 0, sending again what request retry sent.
func numbered(id string, now int64, want int, seq, retry uint64) rl.SyncRequest {
	r := req(id, now, want)
	r.Seq, r.Retry = seq, retry
	return r
}

func sentAgain(t *testing.T, c *client) {
	used := []rl.SecondCount{{Sec: Base / sec, N: 2}}
	r := numbered("a", Base, 3, 10, 0)
	r.Used = used
	rep := c.sync(r) // its reply is lost
	expect(t, "window", rep.Window, 5)
	r = numbered("a", Base+sec/2, 3, 11, 10)
	r.Used = used
	rep = c.sync(r)
	expect(t, "granted when sent again", rep.Granted, 3)
	expect(t, "window: used tickets counted once, the lost grant taken back", rep.Window, 5)
	r = numbered("a", Base+sec/2, 0, 12, 0)
	expect(t, "window after the next request", c.sync(r).Window, 5)
	r = numbered("a", Base+sec/2, 0, 13, 11) // retries a request applied and answered: nothing to take back
	r.Used = used
	expect(t, "window after a request whose batch was applied", c.sync(r).Window, 5)
}

// sentTwice sends one request twice, as a Redis client does when it
// retries a command whose reply it did not read: the second copy is told
// the first one's grant, and the grant is counted once. A copy that comes
// after a later request gets nothing.
func sentTwice(t *testing.T, c *client) {
	r := numbered("a", Base+100*int64(time.Millisecond), 3, 1, 0)
	first := c.sync(r)
	expect(t, "granted", first.Granted, 3)
	again := c.sync(r)
	expect(t, "granted to the copy", again.Granted, first.Granted)
	expect(t, "the copy's first slot", again.NotBefore, first.NotBefore)
	expect(t, "the copy's spacing", again.Spacing, first.Spacing)
	expect(t, "window: the grant counted once", again.Window, 3)
	expect(t, "the next request's grant", c.sync(numbered("a", Base+200*int64(time.Millisecond), 2, 2, 0)).Granted, 2)
	late := c.sync(r)
	expect(t, "granted to a copy of a request before the last", late.Granted, 0)
	expect(t, "window after that copy", late.Window, 5)
}

func returnedAgain(t *testing.T, c *client) {
	expect(t, "b's grant", c.sync(numbered("b", Base, 6, 1, 0)).Granted, 6)
	expect(t, "a's grant", c.sync(numbered("a", Base, 4, 1, 0)).Granted, 4)
	back := []rl.SecondCount{{Sec: Base / sec, N: 3}}
	r := numbered("a", Base+sec, 0, 2, 0)
	r.Returned = back
	expect(t, "window after a's return", c.sync(r).Window, 7) // its reply is lost
	for seq := uint64(3); seq <= 4; seq++ {
		r = numbered("a", Base+sec, 0, seq, 2)
		r.Returned = back
		expect(t, "window: b's tickets stay counted", c.sync(r).Window, 7)
	}
}

func staleRequest(t *testing.T, c *client) {
	expect(t, "a's grant", c.sync(numbered("a", Base, 3, 5, 0)).Granted, 3)
	r := numbered("a", Base+sec/10, 3, 4, 0)
	r.Used = []rl.SecondCount{{Sec: Base / sec, N: 2}}
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}}
	rep := c.sync(r)
	expect(t, "granted to a late request", rep.Granted, 0)
	expect(t, "window", rep.Window, 3)
	expect(t, "paused", rep.Paused, false)
	r = numbered("a", Base+sec/5, 3, 6, 5) // 5's reply was lost: its grant is taken back
	expect(t, "window after 5 was sent again", c.sync(r).Window, 3)
	r = numbered("a", Base+sec/10, 3, 6, 5) // a late copy of 6
	expect(t, "window: the late copy takes nothing back", c.sync(r).Window, 3)
	// A limiter created later with the same id starts above.
	expect(t, "a's successor", c.sync(numbered("a", Base+sec/5, 2, 100, 0)).Granted, 2)
}

func eventsAgain(t *testing.T, c *client) {
	r := numbered("a", Base, 0, 1, 0)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}, {Kind: rl.QuotaResumed}}
	expect(t, "epoch", c.sync(r).Epoch, uint64(2)) // its reply is lost
	r = numbered("a", Base+sec/2, 0, 2, 1)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}, {Kind: rl.QuotaResumed}}
	rep := c.sync(r)
	expect(t, "paused", rep.Paused, false)
	expect(t, "epoch: the events were applied once", rep.Epoch, uint64(2))
}

// lastSeqTold numbers a limiter's requests below those of an earlier one
// with its id (created on a host whose clock was ahead): the store applies
// none of them and tells each the last Seq it applied, so that the
// limiter numbers on above it; then its requests are applied.
func lastSeqTold(t *testing.T, c *client) {
	first := c.sync(numbered("a", Base, 3, 100, 0))
	expect(t, "granted", first.Granted, 3)
	expect(t, "LastSeq of a request applied", first.LastSeq, uint64(0))
	r := numbered("a", Base+sec/10, 3, 50, 0)
	r.Used = []rl.SecondCount{{Sec: Base / sec, N: 2}}
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base + sec}}
	rep := c.sync(r)
	expect(t, "granted to a request numbered below", rep.Granted, 0)
	expect(t, "its LastSeq", rep.LastSeq, uint64(100))
	expect(t, "window", rep.Window, 3)
	expect(t, "paused", rep.Paused, false)
	r.Seq, r.Retry = 51, 50 // sent again after a lost reply: still below
	expect(t, "LastSeq of the request sent again", c.sync(r).LastSeq, uint64(100))
	again := c.sync(numbered("a", Base, 3, 100, 0)) // the last one, sent twice
	expect(t, "LastSeq of a copy of the last request", again.LastSeq, uint64(100))
	expect(t, "granted to that copy", again.Granted, first.Granted)
	r.Seq, r.Retry = 101, 0 // numbered on above the last: told as news
	rep = c.sync(r)
	expect(t, "LastSeq once above", rep.LastSeq, uint64(0))
	expect(t, "paused by the refusal", rep.Paused, true)
	expect(t, "granted once above, paused", rep.Granted, 0)
	expect(t, "window: the used tickets counted once", rep.Window, 5)
	expect(t, "LastSeq of a request not numbered", c.sync(req("a", Base+sec/5, 0)).LastSeq, uint64(0))
}
