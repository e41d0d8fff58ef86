package storetest

import (
	"fmt"
	"testing"
	"time"

	rl "github.com/ratellmiter/ratellmiter"
)

// The limiters sharing a key may state different caps: during a deploy
// that changes their requests per minute, or when one limiter's limit
// was lowered and another's not. Every grant is checked against the
// least of the caps of the live limiters, the requester's included.

const ms = int64(time.Millisecond)

// limit300 is 300 RPM: 5 a second, ramping from 2 by 1.
var limit300 = rl.QuotaLimit{PerSecond: 5, PerMinute: 300, RampStart: 2, RampStep: 1}

// capped returns a request of id at now for want tickets, stating lim.
func capped(id string, now int64, want int, lim rl.QuotaLimit) rl.SyncRequest {
	r := req(id, now, want)
	r.Limit = lim
	return r
}

// mixedPerSecond: a limiter of 600 RPM is held to the 5 a second of a live
// one of 300 RPM, and so is the 300 RPM one; once the lower one is no
// longer live, the caps go back up.
func mixedPerSecond(t *testing.T, c *client) {
	c.sync(capped("b", Base, 0, limit300))
	rep := c.sync(req("a", Base+10*ms, 10))
	expect(t, "a's grant with b live", rep.Granted, 5)
	expect(t, "a's spacing: 5 a second", rep.Spacing, 200*ms)
	expect(t, "caps in force", rep.Limit, limit300)
	expect(t, "b's grant in a full second", c.sync(capped("b", Base, 5, limit300)).Granted, 0)
	// Many syncs of a alone, b still live.
	for i := int64(1); i <= 5; i++ {
		rep = c.sync(req("a", Base+i*sec/2, 0))
		expect(t, fmt.Sprintf("caps in force at %d ms", i*500), rep.Limit, limit300)
	}
	rep = c.sync(req("a", Base+2*sec+990*ms, 10))
	expect(t, "a's grant at 2.99 s, b still live", rep.Granted, 1) // one slot left
	rep = c.sync(req("a", Base+3*sec, 10))
	expect(t, "a's grant once b is no longer live", rep.Granted, 10)
	expect(t, "a's spacing", rep.Spacing, 100*ms)
	expect(t, "caps in force", rep.Limit, limit600)
	expect(t, "live", rep.Live, 1)
	rep = c.sync(capped("b", Base+4*sec, 10, limit300))
	expect(t, "b's grant, back: its own caps", rep.Granted, 5)
	expect(t, "caps in force", rep.Limit, limit300)
	expect(t, "a's grant, b back", c.sync(req("a", Base+4*sec+100*ms, 10)).Granted, 0)
}

// mixedHeartbeatKeepsCaps: the lower caps hold as long as their limiter
// keeps its heartbeat, however many syncs the others make meanwhile.
func mixedHeartbeatKeepsCaps(t *testing.T, c *client) {
	for i := int64(0); i < 8; i++ {
		now := Base + i*sec
		if i%2 == 0 {
			c.sync(capped("b", now, 0, limit300))
		}
		got := 0
		for j := int64(0); j < 4; j++ {
			got += c.sync(req("a", now+j*250*ms, 10)).Granted
		}
		expect(t, fmt.Sprintf("a's tickets in second %d", i), got, 5)
	}
	got := 0
	for j := int64(0); j < 4; j++ {
		got += c.sync(req("a", Base+9*sec+j*250*ms, 10)).Granted
	}
	expect(t, "a's tickets in second 9, 3 s after b's last heartbeat", got, 10)
}

// mixedPerMinute: the sixty-second window of the least PerMinute.
func mixedPerMinute(t *testing.T, c *client) {
	low := rl.QuotaLimit{PerSecond: 10, PerMinute: 25, RampStart: 10, RampStep: 10}
	got := 0
	for i := range int64(5) {
		c.sync(capped("b", Base+i*sec, 0, low))
		got += c.sync(req("a", Base+i*sec+100*ms, 10)).Granted
	}
	expect(t, "a's tickets in five seconds with b live", got, 25)
	expect(t, "a at second 8, b no longer live", c.sync(req("a", Base+8*sec, 10)).Granted, 10)
}

// mixedRamp: after a resume the ramp starts from the least RampStart and
// adds the least RampStep, capped by the least PerSecond, each from the
// limiter that states it.
func mixedRamp(t *testing.T, c *client) {
	a := rl.QuotaLimit{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3}
	b := rl.QuotaLimit{PerSecond: 20, PerMinute: 1200, RampStart: 2, RampStep: 1}
	r := capped("a", Base, 0, a)
	r.Events = []rl.QuotaEvent{{Kind: rl.QuotaRefused, ProbeAt: Base}, {Kind: rl.QuotaResumed}}
	c.sync(r)
	var got []int
	var rep rl.SyncReply
	for i := range int64(5) {
		rep = c.sync(capped("b", Base+i*sec, 20, b))
		n := rep.Granted + c.sync(capped("a", Base+i*sec, 20, a)).Granted
		got = append(got, n)
	}
	expect(t, "tickets per second after the resume", fmt.Sprint(got), "[2 3 4 5 6]")
	expect(t, "caps in force", rep.Limit, rl.QuotaLimit{PerSecond: 10, PerMinute: 600, RampStart: 2, RampStep: 1})
	for i := int64(5); i < 15; i++ {
		c.sync(capped("b", Base+i*sec, 20, b))
		c.sync(capped("a", Base+i*sec, 20, a))
	}
	expect(t, "b's tickets after the ramp, a live", c.sync(capped("b", Base+15*sec, 20, b)).Granted, 10)
}

// mixedSlots: the slots within a second are spaced for the least
// PerSecond.
func mixedSlots(t *testing.T, c *client) {
	c.sync(capped("b", Base, 0, rl.QuotaLimit{PerSecond: 4, PerMinute: 240, RampStart: 4, RampStep: 4}))
	rep := c.sync(req("a", Base, 3))
	expect(t, "granted", rep.Granted, 3)
	expect(t, "first slot", rep.NotBefore, Base)
	expect(t, "spacing", rep.Spacing, 250*ms)
	rep = c.sync(req("a", Base+600*ms, 3))
	expect(t, "granted in the rest of the second", rep.Granted, 1)
	expect(t, "slot", rep.NotBefore, Base+750*ms)
}

// mixedRaised: a limiter's caps are its last ones: when it raises them,
// the caps in force go up at once.
func mixedRaised(t *testing.T, c *client) {
	c.sync(capped("b", Base, 0, limit300))
	expect(t, "caps in force", c.sync(req("a", Base+100*ms, 0)).Limit, limit300)
	c.sync(capped("b", Base+200*ms, 0, limit600))
	rep := c.sync(req("a", Base+300*ms, 10))
	expect(t, "caps in force once b raised its own", rep.Limit, limit600)
	expect(t, "a's grant", rep.Granted, 7) // the slots left in the second
	c.sync(capped("b", Base+sec, 0, limit300))
	expect(t, "caps in force once b lowered its own", c.sync(req("a", Base+sec+100*ms, 0)).Limit, limit300)
	// No caps: b counts as live, its caps do not.
	c.sync(capped("b", Base+sec+200*ms, 0, rl.QuotaLimit{}))
	rep = c.sync(req("a", Base+sec+300*ms, 0))
	expect(t, "caps in force once b states none", rep.Limit, limit600)
	expect(t, "live", rep.Live, 2)
	rep = c.sync(capped("b", Base+sec+400*ms, 3, rl.QuotaLimit{}))
	expect(t, "granted to a request of no caps", rep.Granted, 0)
	expect(t, "caps in force told to it", rep.Limit, limit600)
}

// mixedOwnIncluded: the requester's own caps count even when they are
// lower than every live limiter's, and even in a request that came late
// and is not applied; such a request's caps are not remembered.
func mixedOwnIncluded(t *testing.T, c *client) {
	c.sync(req("a", Base, 0))
	rep := c.sync(capped("b", Base+100*ms, 10, limit300))
	expect(t, "b's grant", rep.Granted, 5)
	expect(t, "caps in force", rep.Limit, limit300)
	expect(t, "c's grant", c.sync(numbered("c", Base+sec, 2, 5, 0)).Granted, 2)
	late := numbered("c", Base+sec+100*ms, 2, 4, 0)
	late.Limit = rl.QuotaLimit{PerSecond: 2, PerMinute: 120, RampStart: 1, RampStep: 1}
	rep = c.sync(late)
	expect(t, "caps in force told to the late request", rep.Limit, late.Limit)
	expect(t, "granted to the late request", rep.Granted, 0)
	rep = c.sync(req("a", Base+sec+200*ms, 10))
	expect(t, "caps in force after it: b's", rep.Limit, limit300)
	expect(t, "a's grant", rep.Granted, 3)
}

// mixedOutOfOrder: the caps in force are those of the limiters live at the
// request's own time, whatever a later request said before it.
func mixedOutOfOrder(t *testing.T, c *client) {
	c.sync(capped("b", Base, 0, limit300))
	expect(t, "caps at 3.1 s, b no longer live", c.sync(req("a", Base+3100*ms, 0)).Limit, limit600)
	expect(t, "caps at 2.9 s, b live", c.sync(req("c", Base+2900*ms, 0)).Limit, limit300)
	expect(t, "caps at 3.2 s", c.sync(req("a", Base+3200*ms, 0)).Limit, limit600)
}

// mixedLeaving: a limiter that says it is leaving no longer counts as live
// and its caps no longer hold the quota, from its request on; its request
// is remembered, so that a late one of it does not bring it back, and it
// is live again once it syncs anew.
func mixedLeaving(t *testing.T, c *client) {
	b := func(now int64, seq uint64) rl.SyncRequest {
		r := numbered("b", now, 0, seq, 0)
		r.Limit = limit300
		return r
	}
	c.sync(b(Base, 10))
	rep := c.sync(req("a", Base+100*ms, 0))
	expect(t, "caps in force with b live", rep.Limit, limit300)
	expect(t, "live", rep.Live, 2)
	leave := b(Base+200*ms, 11)
	leave.Leaving = true
	rep = c.sync(leave)
	expect(t, "live told to b as it leaves", rep.Live, 1)
	rep = c.sync(req("a", Base+300*ms, 10))
	expect(t, "caps in force once b left", rep.Limit, limit600)
	expect(t, "live once b left", rep.Live, 1)
	expect(t, "a's grant", rep.Granted, 7) // the slots left in the second at 10 a second
	c.sync(b(Base+150*ms, 10))             // late
	c.sync(leave)                          // sent twice
	rep = c.sync(req("a", Base+400*ms, 0))
	expect(t, "caps in force after b's late requests", rep.Limit, limit600)
	expect(t, "live after b's late requests", rep.Live, 1)
	c.sync(b(Base+500*ms, 100)) // b again, restarted
	rep = c.sync(req("a", Base+600*ms, 0))
	expect(t, "caps in force with b back", rep.Limit, limit300)
	expect(t, "live with b back", rep.Live, 2)
}
