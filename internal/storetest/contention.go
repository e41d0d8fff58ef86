package storetest

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	rl "github.com/ratellmiter/ratellmiter"
)

// Contention is a run of limiters that share one quota, each with many
// goroutines taking tickets back to back and finishing them at once, so
// that every limiter wants more than the quota gives it the whole time.
// The limiters may be in one process (a MemoryStore, or a Redis store) or
// in several (a Redis store): each runs Hammer, and Check merges their
// records on the common clock.
type Contention struct {
	RPM        int           // the quota, and every limiter's rate
	Goroutines int           // per limiter
	Duration   time.Duration // from the start
	// Prefill tickets are counted in the second Prefill.Sec seconds
	// before the start, so that the sixty-second window binds within the
	// run: Prefill.N tickets leave room for only RPM-N until that second
	// leaves the window.
	Prefill rl.SecondCount
	// A rate limit is reported, with Hint, on the first ticket any
	// limiter gets at or after each of LimitAt (offsets from the start).
	// The limiters agree on which ticket that is through files of Dir,
	// which must be the same directory for all of them.
	LimitAt []time.Duration
	Hint    time.Duration
	Dir     string
	// Each makes every limiter report a rate limit on its first ticket in
	// the second after each of LimitAt, as when a server refuses every
	// call in flight, instead of only the first limiter to get one.
	Each bool
	// MinShare is the least share of the tickets each limiter must get,
	// as a fraction of an even share. A limiter leases up to a quarter
	// of a second's tickets at a time, so each second only the first
	// four limiters to ask get any: with many limiters, shares are even
	// only over many seconds.
	MinShare float64
}

// Record is what one limiter saw in a Contention: Unix ns, on the clock
// the limiters share.
type Record struct {
	Issued []int64 // every ticket issued, a retry after a rate limit included
	Limits []int64 // every rate limit reported
	Paused []int64 // each sample, every 50 ms, that found the limiter paused
	Err    string  // the first unexpected error
}

// FillWindow counts c.Prefill's tickets in the quota named key of store,
// as tickets used by a limiter that then goes away, for a run that starts
// at start.
func FillWindow(ctx context.Context, store rl.Store, key string, c Contention, start time.Time) error {
	if c.Prefill.N == 0 {
		return nil
	}
	sec := start.Unix() - c.Prefill.Sec
	_, err := store.Sync(ctx, key, rl.SyncRequest{ID: "prefill", Now: sec * int64(time.Second), Sec: sec,
		Used: []rl.SecondCount{{Sec: sec, N: c.Prefill.N}}, LiveTTL: time.Millisecond})
	return err
}

// claim reports whether this caller is the first to claim the rate limit
// numbered i of c, over every limiter and process.
func (c Contention) claim(i int) bool {
	f, err := os.OpenFile(filepath.Join(c.Dir, fmt.Sprint("limit-", i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// Hammer runs limiter l's part of c from start (a whole second) until
// c.Duration after it.
func Hammer(l *rl.BucketRateLimiter, c Contention, start time.Time) Record {
	var rec Record
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		if rec.Err == "" {
			rec.Err = err.Error()
		}
		mu.Unlock()
	}
	time.Sleep(time.Until(start))
	// Not a deadline: Acquire would refuse a ticket it cannot issue
	// before it instead of waiting.
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(time.Until(start.Add(c.Duration)), cancel).Stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if l.Stats().Paused {
					mu.Lock()
					rec.Paused = append(rec.Paused, now.UnixNano())
					mu.Unlock()
				}
			}
		}
	})
	var next int
	for range c.Goroutines {
		wg.Go(func() {
			for ctx.Err() == nil {
				tk, err := l.Acquire(ctx)
				if err != nil {
					if ctx.Err() == nil {
						fail(fmt.Errorf("acquiring a ticket: %w", err))
					}
					return
				}
				now := time.Now()
				mu.Lock()
				rec.Issued = append(rec.Issued, now.UnixNano())
				limited := false
				for next < len(c.LimitAt) && now.Sub(start) >= c.LimitAt[next] {
					if c.Each {
						limited = limited || now.Sub(start) < c.LimitAt[next]+time.Second
					} else {
						limited = c.claim(next) || limited
					}
					next++
				}
				if limited {
					rec.Limits = append(rec.Limits, now.UnixNano())
				}
				mu.Unlock()
				if limited {
					if err := tk.RateLimited(ctx, c.Hint); err != nil {
						if ctx.Err() == nil {
							fail(fmt.Errorf("RateLimited: %w", err))
						}
						return
					}
					mu.Lock()
					rec.Issued = append(rec.Issued, time.Now().UnixNano())
					mu.Unlock()
				}
				tk.Done()
			}
		})
	}
	wg.Wait()
	return rec
}

// Result sums up a Contention.
type Result struct {
	PeakSecond, PeakMinute int     // the most tickets in one second, in sixty
	Total                  int     // tickets issued in the run
	Ideal                  int     // what the caps allow in the run, less the pauses (not the ramps after them)
	Ratio                  float64 // Total / Ideal
	Shares                 []int   // each limiter's tickets
	PerSecond              []int   // the tickets of each second of the run
}

// String sums r up on one line, for a test's log.
func (r Result) String() string {
	return fmt.Sprintf("peak %d/s, %d/min; %d tickets of %d allowed (%.3f); shares %v; by second %v",
		r.PeakSecond, r.PeakMinute, r.Total, r.Ideal, r.Ratio, r.Shares, r.PerSecond)
}

// Check merges the limiters' records of c, run from start, and checks
// them against the quota:
//
//   - at most ceil(RPM/60) tickets in any second, plus slack, and at most
//     RPM in any sixty seconds (the prefill included), plus slack: the
//     slack is for the canary of a pause, which is counted whatever the
//     caps;
//   - after each rate limit, no ticket from a second after it until the
//     hint ends, every limiter paused until then, and every limiter
//     resumed within resumeWithin of the first;
//   - each limiter's share at least c.MinShare of an even one: none is
//     starved while the others are busy.
//
// It returns the result, for the caller to check the throughput.
func Check(t testing.TB, c Contention, start time.Time, recs []Record, slack int, resumeWithin time.Duration) Result {
	t.Helper()
	perSec := (c.RPM + 59) / 60
	counts := map[int64]int{}
	if c.Prefill.N > 0 {
		counts[start.Unix()-c.Prefill.Sec] += c.Prefill.N
	}
	var res Result
	var limits []int64
	for i, r := range recs {
		if r.Err != "" {
			t.Errorf("limiter %d: %s", i, r.Err)
		}
		n := 0
		for _, at := range r.Issued {
			counts[at/1e9]++
			if at < start.Add(c.Duration).UnixNano() {
				n++ // not one issued as the run ended
			}
		}
		res.Shares = append(res.Shares, n)
		res.Total += n
		limits = append(limits, r.Limits...)
	}
	first, last := start.Unix()-60, start.Add(c.Duration).Unix()
	window := 0
	for s := first; s <= last; s++ {
		window += counts[s] - counts[s-60]
		res.PeakMinute = max(res.PeakMinute, window)
		if s < start.Unix() {
			continue // the prefill
		}
		res.PeakSecond = max(res.PeakSecond, counts[s])
		res.PerSecond = append(res.PerSecond, counts[s])
		if counts[s] > perSec+slack {
			t.Errorf("%d tickets in second %d of the run, cap %d", counts[s], s-start.Unix(), perSec)
		}
		if window > c.RPM+slack {
			t.Errorf("%d tickets in the sixty seconds that end with second %d of the run, cap %d", window, s-start.Unix(), c.RPM)
		}
	}

	// The ideal: each second of the run issues what the caps leave, but
	// for the pauses.
	ideal := map[int64]int{}
	if c.Prefill.N > 0 {
		ideal[start.Unix()-c.Prefill.Sec] = c.Prefill.N
	}
	window = 0
	for s := first; s < start.Unix(); s++ {
		window += ideal[s] - ideal[s-60]
	}
	for s := start.Unix(); s < start.Add(c.Duration).Unix(); s++ {
		window -= ideal[s-60]
		paused := false
		for _, at := range limits {
			if s >= at/1e9 && s < (at+int64(c.Hint))/1e9 {
				paused = true // from the rate limit's second to the probe's
			}
		}
		if !paused {
			ideal[s] = max(0, min(perSec, c.RPM-window))
		}
		window += ideal[s]
		res.Ideal += ideal[s]
	}
	res.Ratio = float64(res.Total) / float64(max(1, res.Ideal))

	slices.Sort(limits)
	for _, at := range limits {
		quietFrom, quietTo := at+int64(time.Second), at+int64(c.Hint)
		for i, r := range recs {
			for _, x := range r.Issued {
				if x > quietFrom && x < quietTo {
					t.Errorf("limiter %d issued a ticket %v after the rate limit, while the quota was paused",
						i, time.Duration(x-at))
				}
			}
		}
		ends := make([]time.Duration, len(recs))
		firstEnd := time.Duration(math.MaxInt64)
		for i, r := range recs {
			end := int64(0)
			for _, x := range r.Paused {
				if x < at || (end != 0 && x > end+int64(200*time.Millisecond)) {
					continue
				}
				if end == 0 && x > quietFrom {
					break
				}
				end = x
			}
			ends[i] = time.Duration(end - at)
			if end < quietTo-int64(100*time.Millisecond) {
				t.Errorf("limiter %d was paused only until %v after the rate limit, hint %v", i, ends[i], c.Hint)
			}
			firstEnd = min(firstEnd, ends[i])
		}
		for i, e := range ends {
			if e > firstEnd+resumeWithin {
				t.Errorf("limiter %d resumed %v after the first one", i, e-firstEnd)
			}
		}
	}

	even := float64(res.Total) / float64(len(recs))
	for i, n := range res.Shares {
		if float64(n) < c.MinShare*even {
			t.Errorf("limiter %d issued %d tickets, under %.2f of an even share (%.1f)", i, n, c.MinShare, even)
		}
	}
	return res
}

// Contentions are the runs every store is put through, by number of
// limiters: 2, 5 and 20 limiters on a quota of 1200 RPM for 17 s, whose
// window is filled to 1080 fifty seconds before the start, so that the
// sixty-second cap binds from the sixth second to the tenth, and a rate
// limit at the twelfth second pauses them all for 3 s. Result.Ideal
// leaves out the seconds from the rate limit's to the probe's, and counts
// the ramp after the pause at the full rate: the ramp issues 15 tickets
// fewer (10 and 15 in its two seconds instead of 20 and 20), and the
// tickets the other limiters issue before they hear of the pause come on
// top, so that a run issues about 0.93 to 0.96 of Result.Ideal.
//
// A limiter leases at most a quarter of a second's tickets at a time, so
// each second only the first four limiters to ask get tickets: two
// limiters each get at least half an even share, five at least a quarter,
// and twenty may get none within the run's seventeen seconds (they get
// even shares over minutes).
func Contentions() map[int]Contention {
	c := Contention{RPM: 1200, Goroutines: 8, Duration: 17 * time.Second,
		Prefill: rl.SecondCount{Sec: 50, N: 1080}, LimitAt: []time.Duration{12 * time.Second}, Hint: 3 * time.Second,
		MinShare: 0.5}
	five, twenty := c, c
	five.MinShare, twenty.MinShare = 0.25, 0
	return map[int]Contention{2: c, 5: five, 20: twenty}
}
