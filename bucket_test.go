package ratellmiter

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issueGreedily issues n tickets as early as the bucket allows, starting at
// from, and returns their times.
func issueGreedily(b *bucket, from int64, n int) []int64 {
	times := make([]int64, 0, n)
	now := from
	for range n {
		now = b.next(now)
		if !b.ready(now) {
			panic("next returned a time that is not ready")
		}
		b.take(now)
		times = append(times, now)
	}
	return times
}

// perSecond counts times by second, relative to the second of origin.
func perSecond(times []int64, origin int64) map[int64]int {
	m := map[int64]int{}
	for _, t := range times {
		m[secOf(t)-secOf(origin)]++
	}
	return m
}

func TestBucketRampCurve(t *testing.T) {
	tests := []struct {
		name        string
		rpm         int
		start, step float64
		want        []int // tickets issued in seconds 0, 1, 2, ...
	}{
		{"original fractions at 3000 RPM", 3000, 0.25, 0.10, []int{13, 18, 23, 28, 33, 38, 43, 48, 50, 50}},
		{"half and quarter at 3000 RPM", 3000, 0.5, 0.25, []int{25, 38, 50, 50}},
		{"ramp off", 3000, 1, 1, []int{50, 50, 50}},
		{"small rate rounds up to one", 120, 0.25, 0.10, []int{1, 2, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBucket(tc.rpm, tc.start, tc.step, true)
			total := 0
			for _, n := range tc.want {
				total += n
			}
			times := issueGreedily(&b, 0, total)
			got := perSecond(times, 0)
			for sec, want := range tc.want {
				assert.Equal(t, want, got[int64(sec)], "second %d", sec)
			}
		})
	}
}

func TestBucketSpreadsTicketsAcrossTheSecond(t *testing.T) {
	b := newBucket(600, 1, 1, true) // 10 per second, no ramp
	times := issueGreedily(&b, 0, 10)
	for i, at := range times {
		assert.Equal(t, int64(i)*nsPerSec/10, at, "ticket %d", i)
	}
}

func TestBucketBelowOnePerSecond(t *testing.T) {
	b := newBucket(20, DefaultRampStart, DefaultRampStep, true) // one every 3 s
	times := issueGreedily(&b, 0, 5)
	for i := 1; i < len(times); i++ {
		assert.GreaterOrEqual(t, times[i]-times[i-1], 3*nsPerSec, "gap before ticket %d", i)
	}
	assert.Equal(t, 12*nsPerSec, times[4], "fifth ticket")
}

func TestBucketRampRestartsAfterIdle(t *testing.T) {
	b := newBucket(3000, 0.25, 0.10, true)
	issueGreedily(&b, 0, 200) // reaches full rate
	times := issueGreedily(&b, 30*nsPerSec, 13+18)
	got := perSecond(times, 30*nsPerSec)
	assert.Equal(t, 13, got[0], "first second after idling")
	assert.Equal(t, 18, got[1], "second second after idling")
}

func TestBucketRestartRamp(t *testing.T) {
	b := newBucket(3000, 0.25, 0.10, true)
	times := issueGreedily(&b, 0, 500) // running at the full 50 per second
	sec := secOf(times[len(times)-1]) + 1
	b.restartRamp(sec)
	times = issueGreedily(&b, sec*nsPerSec, 13+18)
	assert.Equal(t, map[int64]int{0: 13, 1: 18}, perSecond(times, sec*nsPerSec))
}

func TestBucketLateTimersDoNotPushTicketsBack(t *testing.T) {
	b := newBucket(3000, 1, 1, false) // 50 a second, 20 ms apart
	const late = 700 * time.Microsecond
	var now int64
	var times []int64
	for range 600 {
		// Every ticket is issued late, as when the timer that wakes
		// the waiter fires after its time.
		now = b.next(now) + int64(late)
		require.True(t, b.ready(now))
		b.take(now)
		times = append(times, now)
	}
	// 600 tickets 20 ms apart from the first: the last is due 11.98 s
	// after it, and only its own lateness is added (and the first's, which
	// the schedule starts from), not that of the 598 in between.
	assert.Equal(t, 11980*time.Millisecond+2*late, time.Duration(times[599]))
	for i := 1; i < len(times); i++ {
		require.GreaterOrEqual(t, times[i]-times[i-1], int64(10*time.Millisecond), "never closer than half a spacing")
	}
	for sec, n := range perSecond(times, 0) {
		assert.LessOrEqual(t, n, 50, "second %d", sec)
	}
}

func TestBucketAfterALongWaitSpacesFromTheIssue(t *testing.T) {
	b := newBucket(3000, 1, 1, false)
	b.take(0)
	// Issued 15 ms after it was due (more than half the 20 ms spacing):
	// the next slot is 20 ms after it, not after when it was due.
	b.take(int64(35 * time.Millisecond))
	assert.Equal(t, int64(55*time.Millisecond), b.next(int64(35*time.Millisecond)))
}

func TestBucketRefund(t *testing.T) {
	b := newBucket(120, 1, 1, true) // 2 per second
	times := issueGreedily(&b, 0, 2)
	assert.False(t, b.ready(times[1]+1), "second is full")
	b.refund(times[1])
	b.slot = times[0]
	assert.True(t, b.ready(times[1]+1), "refunded ticket is available again")
}

// TestBucketCapsHoldForRandomWorkloads checks, for 10,000 random rates and
// arrival patterns, with tickets now and then given back, that no
// one-second bucket holds more than ceil(R/60) tickets and no 60-second
// window more than R.
func TestBucketCapsHoldForRandomWorkloads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 10000 {
		rpm := 1 + rng.IntN(6000)
		if run%4 == 0 {
			rpm = 1 + rng.IntN(120)
		}
		start, step := 0.05+rng.Float64()*0.95, 0.05+rng.Float64()*0.95
		b := newBucket(rpm, start, step, true)
		var times []int64
		now := int64(rng.IntN(1000)) * 1e6
		for range 100 + rng.IntN(300) {
			now += int64(rng.ExpFloat64() * float64(60*nsPerSec) / float64(rpm) * 0.7)
			if rng.IntN(50) == 0 {
				now += int64(rng.IntN(90)) * nsPerSec // idle spell
			}
			at := b.next(now)
			if !b.ready(at) {
				t.Fatalf("run %d: next(%d) = %d, which is not ready", run, now, at)
			}
			// Often issued late, as by a timer that fires after its time
			// (unless the lateness crosses into a second that allows
			// less).
			if late := at + int64(rng.IntN(4000))*1e3; rng.IntN(3) == 0 && b.ready(late) {
				at = late
			}
			b.take(at)
			times = append(times, at)
			now = at
			// Sometimes given back unused, as by a waiter that gave
			// up as it was issued: its count and slot are free again.
			if rng.IntN(10) == 0 {
				b.refund(at)
				times = times[:len(times)-1]
			}
		}
		perSec := (rpm + 59) / 60
		counts := perSecond(times, 0)
		for sec, n := range counts {
			if n > perSec {
				t.Fatalf("run %d (rpm %d): second %d issued %d, cap %d", run, rpm, sec, n, perSec)
			}
		}
		// Times are increasing: slide a window of 60 seconds over them.
		lo := 0
		for hi := range times {
			for secOf(times[lo]) <= secOf(times[hi])-60 {
				lo++
			}
			if hi-lo+1 > rpm {
				t.Fatalf("run %d (rpm %d): minute ending second %d issued %d", run, rpm, secOf(times[hi]), hi-lo+1)
			}
		}
		// Any R+1 tickets span a minute, less the lateness made up.
		for i := 0; i+rpm < len(times); i++ {
			if span := times[i+rpm] - times[i]; span < 60*nsPerSec-slotSlack {
				t.Fatalf("run %d (rpm %d): %d tickets within %v", run, rpm, rpm+1, time.Duration(span))
			}
		}
	}
}

func TestALateArrivalIsSpacedFromItsIssue(t *testing.T) {
	b := newBucket(60, 1, 1, false) // one a second
	b.take(0)
	// The next request comes half a second after its slot: far later
	// than a timer's jitter, so the backlog behind it is spaced from it.
	b.take(1500 * int64(time.Millisecond))
	assert.Equal(t, 2500*int64(time.Millisecond), b.next(1500*int64(time.Millisecond)))
}

func TestBucketWithoutIdleRampRampsOnlyAfterPause(t *testing.T) {
	b := newBucket(3000, 0.25, 0.10, false)
	times := issueGreedily(&b, 0, 100)
	assert.Equal(t, map[int64]int{0: 50, 1: 50}, perSecond(times, 0), "full rate from the start")
	b.restartRamp(5)
	times = issueGreedily(&b, 5*nsPerSec, 13+18+23+28+33+38+43+48+50+50)
	want := map[int64]int{0: 13, 1: 18, 2: 23, 3: 28, 4: 33, 5: 38, 6: 43, 7: 48, 8: 50, 9: 50}
	assert.Equal(t, want, perSecond(times, 5*nsPerSec))
	times = issueGreedily(&b, 60*nsPerSec, 50)
	assert.Equal(t, map[int64]int{0: 50}, perSecond(times, 60*nsPerSec), "the ramp ended with the first full second")
}

func TestAfterSaturatesInsteadOfWrapping(t *testing.T) {
	for _, tc := range []struct {
		now  int64
		d    time.Duration
		want int64
	}{
		{10, 5, 15},
		{10, -5, 5},
		{math.MaxInt64 - 1, 2, math.MaxInt64},
		{1, time.Duration(math.MaxInt64), math.MaxInt64},
		{math.MinInt64 + 1, -2, math.MinInt64},
	} {
		assert.Equal(t, tc.want, after(tc.now, tc.d), "after(%d, %d)", tc.now, int64(tc.d))
	}
}

func TestBucketNextIsTheEarliestReadyTime(t *testing.T) {
	// During a ramp, a spacing that ends in the next second is redone
	// with that second's allowance: at 280 RPM ramping from 40% by 40%,
	// the first second after a resume spaces tickets 500 ms apart, the
	// next one 333 ms.
	b := newBucket(280, 0.4, 0.4, false)
	b.restartRamp(0)
	at := int64(831 * time.Millisecond)
	b.take(at)
	c := b
	require.True(t, c.ready(at+333_333_333))
	assert.Equal(t, at+333_333_333, b.next(at))

	r := rand.New(rand.NewPCG(7, 11))
	for i := range 3000 {
		// Mostly low rates in a ramp, where the allowance changes from
		// second to second and a spacing is long.
		b := newBucket(61+r.IntN(600), 0.1+0.9*r.Float64(), 0.1+0.9*r.Float64(), r.IntN(2) == 0)
		now := int64(r.IntN(5)) * nsPerSec
		if r.IntN(4) != 0 {
			b.restartRamp(secOf(now))
		}
		for range r.IntN(20) {
			now = b.next(now + int64(r.IntN(int(50*time.Millisecond))))
			b.take(now)
		}
		from := now + int64(r.IntN(int(300*time.Millisecond)))
		got := b.next(from)
		c := b
		require.True(t, c.ready(got), "case %d: next(%d) = %d is not ready", i, from, got)
		// No earlier time is ready: the candidates are from itself,
		// each second's start, and each second's spaced slot.
		for s := secOf(from); s <= secOf(got); s++ {
			c := b
			for _, e := range []int64{from, s * nsPerSec, b.slot + c.spacing(c.allowance(s))} {
				if e >= from && e < got {
					c := b
					require.False(t, c.ready(e), "case %d: next(%d) = %d, but %d is ready", i, from, got, e)
				}
			}
		}
	}
}

func TestBucketAfterALateTimerMakesUpTheSlack(t *testing.T) {
	b := newBucket(3000, 1, 1, false) // 50 a second, 20 ms apart
	b.take(0)
	// Issued 3 ms after it was due: more than the slack (2 ms) but no
	// more than a timer may be late. The slot is the slack before it, so
	// the next is due 20 ms after that.
	b.take(int64(23 * time.Millisecond))
	assert.Equal(t, int64(41*time.Millisecond), b.next(int64(23*time.Millisecond)))

	// At 60,000 RPM (1 ms apart) a timer 1.5 ms late keeps the slot it
	// was due at, and the ticket due meanwhile may go at once.
	b = newBucket(60000, 1, 1, false)
	b.take(0)
	b.take(int64(2500 * time.Microsecond))
	assert.Equal(t, int64(2500*time.Microsecond), b.next(int64(2500*time.Microsecond)))
}
