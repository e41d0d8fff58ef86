package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// flakyStore is a Store that fails while down.
type flakyStore struct {
	Store
	down  atomic.Bool
	syncs atomic.Int64
}

var errFlaky = errors.New("connection refused")

func (f *flakyStore) Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error) {
	f.syncs.Add(1)
	if f.down.Load() {
		return SyncReply{}, errFlaky
	}
	return f.Store.Sync(ctx, key, req)
}

// issueLog records when tickets were issued, over several limiters.
type issueLog struct {
	mu    sync.Mutex
	times []time.Time
}

// run takes n tickets from l, each in a goroutine of its own, finishes
// each at once, and records when each was issued. It returns at once; wg
// counts the goroutines.
func (g *issueLog) run(wg *sync.WaitGroup, l *BucketRateLimiter, n int) {
	for range n {
		wg.Go(func() {
			tk, err := l.Acquire(context.Background())
			if err != nil {
				return
			}
			g.mu.Lock()
			g.times = append(g.times, time.Now())
			g.mu.Unlock()
			tk.Done()
		})
	}
}

// perSecond returns how many tickets were issued in each second after
// start, by whole seconds.
func (g *issueLog) perSecond(start time.Time) map[int]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	counts := map[int]int{}
	for _, at := range g.times {
		counts[int(at.Sub(start)/time.Second)]++
	}
	return counts
}

// most returns the most tickets issued in any one second and in any
// sixty seconds, by whole seconds.
func (g *issueLog) most() (perSec, perMin int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	counts := map[int64]int{}
	for _, t := range g.times {
		counts[t.Unix()]++
	}
	secs := slices.Sorted(func(yield func(int64) bool) {
		for s := range counts {
			if !yield(s) {
				return
			}
		}
	})
	for i, s := range secs {
		perSec = max(perSec, counts[s])
		n := 0
		for _, s2 := range secs[i:] {
			if s2 >= s+60 {
				break
			}
			n += counts[s2]
		}
		perMin = max(perMin, n)
	}
	return perSec, perMin
}

// sharedLimiters returns n limiters at rpm on one key of store, with the
// failure policy, on one
// Monitor that stops when the test ends.
func sharedLimiters(t *testing.T, store Store, policy FailurePolicy, n, rpm int, opts ...Option) []*BucketRateLimiter {
	t.Helper()
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	var ls []*BucketRateLimiter
	for i := range n {
		all := append([]Option{WithMonitor(m), WithName(fmt.Sprint("p", i)),
			WithStore(store, "quota", policy, WithProcessID(fmt.Sprint("p", i)))}, opts...)
		l, err := NewBucketRateLimiter(rpm, all...)
		require.NoError(t, err)
		ls = append(ls, l)
	}
	return ls
}

// quotaSharer returns a function that makes a limiter of rpm, named and
// identified id, sharing the quota "quota" on store with every limiter it
// makes, all on one Monitor stopped when the test ends; opts go to each.
func quotaSharer(t *testing.T, store Store, opts ...Option) func(id string, rpm int) *BucketRateLimiter {
	t.Helper()
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	return func(id string, rpm int) *BucketRateLimiter {
		t.Helper()
		all := append([]Option{WithMonitor(m), WithName(id), WithStore(store, "quota", WithProcessID(id))}, opts...)
		l, err := NewBucketRateLimiter(rpm, all...)
		require.NoError(t, err)
		return l
	}
}

func TestWithStoreRejectsBadInput(t *testing.T) {
	m := NewMonitor()
	defer m.Stop()
	s := NewMemoryStore()
	tests := []struct {
		name string
		opt  Option
	}{
		{"nil store", WithStore(nil, "k")},
		{"empty key", WithStore(s, "")},
		{"zero timeout", WithStore(s, "k", WithSyncTimeout(0))},
		{"empty process id", WithStore(s, "k", WithProcessID(""))},
		{"no expected processes", WithStore(s, "k", WithExpectedProcesses(0))},
		{"unknown policy", WithStore(s, "k", FailurePolicy(7))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBucketRateLimiter(60, WithMonitor(m), tc.opt)
			assert.Error(t, err)
		})
	}
}

func TestSharedLimitersNeverExceedTheCapsSummed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 3, 600)
		var log issueLog
		var wg sync.WaitGroup
		for _, l := range ls {
			log.run(&wg, l, 300) // 900 in all: the minute's 600 bind
		}
		start := time.Now()
		wg.Wait()
		perSec, perMin := log.most()
		assert.Equal(t, 10, perSec, "the most in one second, over every limiter")
		assert.Equal(t, 600, perMin, "the most in sixty seconds, over every limiter")
		assert.Len(t, log.times, 900, "every request was issued")
		assert.Less(t, time.Since(start), 92*time.Second, "600 in the first minute, 300 in the next 30 s")
		for _, l := range ls {
			assertConserved(t, l)
		}
	})
}

func TestSharedLimiterIssuesWhenTheServersHoldEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 1, 600)[0]
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		start := time.Now()
		// The server says its budget is spent for 300 ms.
		l.observe(signals.Limits{Requests: signals.Budget{Limit: 600, Remaining: 0,
			Reset: start.Add(300 * time.Millisecond), Known: true}}, start)
		time.Sleep(50 * time.Millisecond)
		tk, err = l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()
		assert.Equal(t, 300*time.Millisecond, time.Since(start), "as without a store, not at the next sync tick")
	})
}

func TestSharedLimiterAloneRunsAtTheFullRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 600)
		got := acquireAll(t, ls[0], 40)
		assert.Equal(t, map[int]int{0: 10, 1: 10, 2: 10, 3: 10}, bySecond(got),
			"an idle limiter on the key takes nothing from a busy one")
	})
}

func TestRateLimitOnOnePausesTheOthersAndOnlyOneProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(blockedAnswer, openAnswer)
		ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 3, 600, WithService(svc))
		var log issueLog
		var wg sync.WaitGroup
		for _, l := range ls[1:] {
			log.run(&wg, l, 60)
		}
		time.Sleep(2 * time.Second)
		tk, err := ls[0].Acquire(context.Background())
		require.NoError(t, err)
		limitedAt := time.Now()
		retried := handBack(tk, 3*time.Second)
		synctest.Wait()

		time.Sleep(time.Second)
		synctest.Wait()
		for _, l := range ls {
			assert.True(t, l.Stats().Paused, "%s paused within a second", l.Name())
		}
		require.NoError(t, <-retried)
		tk.Done()
		wg.Wait()

		// The first probe, when the hint expires, finds the server blocked;
		// the second, 1.5 s later, finds it open. One limiter made each.
		want := []time.Duration{3 * time.Second, 4500 * time.Millisecond}
		calls := svc.callTimes()
		require.Len(t, calls, 2, "one probe at a time over every limiter")
		for i := range calls {
			assert.Equal(t, limitedAt.Sub(svc.start)+want[i], calls[i])
		}
		log.mu.Lock()
		for _, at := range log.times {
			d := at.Sub(limitedAt)
			assert.False(t, d >= time.Second && d < 4500*time.Millisecond,
				"a ticket issued %v after the rate limit, while paused", d)
		}
		log.mu.Unlock()
		for _, l := range ls {
			s := l.Stats()
			assert.False(t, s.Paused, "%s resumed", l.Name())
			assert.Equal(t, uint64(1), s.Pauses)
		}
	})
}

func TestFailClosedRefusesWhileTheStoreIsDownAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &flakyStore{Store: NewMemoryStore()}
		err := failClosedWhileBroken(t, store, store.down.Store)
		assert.ErrorIs(t, err, errFlaky, "the store's error is wrapped")
	})
}

// failClosedWhileBroken makes a limiter on store under FailClosed, breaks
// the store with broken(true) and checks that Acquire is refused at once
// with ErrStoreUnavailable, then mends it with broken(false) and checks
// that the limiter recovers by itself. It returns the refusal. Call it in
// a synctest bubble.
func failClosedWhileBroken(t *testing.T, store Store, broken func(bool)) error {
	t.Helper()
	l := sharedLimiters(t, store, FailClosed, 1, 600, WithRampUp(1, 1))[0]
	tk, err := l.Acquire(context.Background())
	require.NoError(t, err)
	tk.Done()

	broken(true)
	time.Sleep(time.Second)
	start := time.Now()
	_, refusal := l.Acquire(context.Background())
	assert.ErrorIs(t, refusal, ErrStoreUnavailable)
	assert.Zero(t, time.Since(start), "refused without waiting")

	broken(false)
	time.Sleep(syncTick) // the next retry
	synctest.Wait()
	tk, err = l.Acquire(context.Background())
	require.NoError(t, err, "the limiter recovers by itself")
	tk.Done()
	assertConserved(t, l)
	return refusal
}

func TestFailClosedWakesWaitersWithTheError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &flakyStore{Store: NewMemoryStore()}
		l := sharedLimiters(t, store, FailClosed, 1, 60)[0]
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		defer tk.Done()
		store.down.Store(true)
		errc := make(chan error, 1)
		go func() {
			_, err := l.Acquire(context.Background()) // waits for the next second
			errc <- err
		}()
		assert.ErrorIs(t, <-errc, ErrStoreUnavailable)
		assertConserved(t, l)
	})
}

func TestFallbackLocalKeepsToOneNthOfTheRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &flakyStore{Store: NewMemoryStore()}
		ls := sharedLimiters(t, store, FallbackLocal, 2, 600, WithRampUp(1, 1))
		time.Sleep(time.Second) // both have a heartbeat: 2 live
		store.down.Store(true)
		time.Sleep(time.Second) // both noticed
		var log issueLog
		var wg sync.WaitGroup
		for _, l := range ls {
			log.run(&wg, l, 50)
		}
		wg.Wait()
		perSec, _ := log.most()
		assert.Equal(t, 10, perSec, "5 a second each, 10 together")
		assert.Len(t, log.times, 100, "nothing refused")

		store.down.Store(false)
		time.Sleep(syncTick) // the next retry
		synctest.Wait()
		log = issueLog{}
		log.run(&wg, ls[0], 40)
		wg.Wait()
		perSec, _ = log.most()
		assert.Equal(t, 10, perSec, "sharing again: one limiter alone gets the whole rate")
	})
}

func TestAtMostOneSyncPerTicket(t *testing.T) {
	for _, tc := range []struct {
		rpm, tickets int
		most         float64 // syncs per ticket, heartbeats included
	}{
		{rpm: 600, tickets: 300, most: 0.65},  // batches of 2
		{rpm: 6000, tickets: 3000, most: 0.1}, // batches of up to 25
	} {
		t.Run(fmt.Sprint(tc.rpm, " RPM"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &flakyStore{Store: NewMemoryStore()}
				l := sharedLimiters(t, store, FallbackLocal, 1, tc.rpm)[0]
				acquireAll(t, l, tc.tickets)
				perTicket := float64(store.syncs.Load()) / float64(tc.tickets)
				t.Logf("%d RPM: %d syncs for %d tickets, %.2f a ticket", tc.rpm, store.syncs.Load(), tc.tickets, perTicket)
				assert.LessOrEqual(t, perTicket, tc.most)
			})
		})
	}
}

func TestIdleLimiterDoesNotTakeTheCanaryFromABusyOne(t *testing.T) {
	for _, busyFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("busy limiter created first: ", busyFirst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 600) // no service: canaries
				busy := ls[1]
				if busyFirst {
					busy = ls[0]
				}
				time.Sleep(time.Second)
				tk, err := busy.Acquire(context.Background())
				require.NoError(t, err)
				time.Sleep(100 * time.Millisecond)
				start := time.Now()
				// The idle limiter pauses too, but has no request to send
				// as the canary: the busy one's retry goes when the hint
				// expires.
				require.NoError(t, tk.RateLimited(context.Background(), time.Second))
				assert.Less(t, time.Since(start), 1500*time.Millisecond)
				tk.Done()
				for _, l := range ls {
					assert.Eventually(t, func() bool { return !l.Stats().Paused }, 2*time.Second, 100*time.Millisecond, "%s resumed", l.Name())
				}
			})
		})
	}
}

func TestLeasedTicketsIssuedALittleLateKeepTheirSlots(t *testing.T) {
	s := newShared(shareConfig{}, 0)
	s.leaseSec, s.leaseN, s.slot, s.spacing = 0, 3, 0, int64(100*time.Millisecond)
	s.use(int64(time.Millisecond)) // 1 ms late: keeps its slot
	assert.Equal(t, int64(100*time.Millisecond), s.slot)
	s.use(int64(130 * time.Millisecond)) // 30 ms late: spaced from its issue
	assert.Equal(t, int64(230*time.Millisecond), s.slot)
}
