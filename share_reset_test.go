package ratellmiter

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forget loses every quota's state, as a Redis server restarted without
// persistence does.
func (m *MemoryStore) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.quotas = map[string]*memQuota{}
}

// learned returns the learned limit the store holds for key.
func (m *MemoryStore) learned(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if q := m.quotas[key]; q != nil {
		return q.learned
	}
	return -1
}

// pauseAndResume has ls[0] rate limited with a hint of one second, and
// waits until every limiter of ls resumed: the quota's epoch is 2.
func pauseAndResume(t *testing.T, ls []*BucketRateLimiter) {
	t.Helper()
	tk, err := ls[0].Acquire(context.Background())
	require.NoError(t, err)
	require.NoError(t, tk.RateLimited(context.Background(), time.Second))
	tk.Done()
	time.Sleep(2 * time.Second)
	for _, l := range ls {
		require.False(t, l.Stats().Paused, "%s resumed", l.Name())
	}
}

// rateLimit has l rate limited with the hint, in a goroutine that
// finishes the ticket when its retry comes.
func rateLimit(t *testing.T, l *BucketRateLimiter, hint time.Duration) {
	t.Helper()
	tk, err := l.Acquire(context.Background())
	require.NoError(t, err)
	go func() {
		if tk.RateLimited(context.Background(), hint) == nil {
			tk.Done()
		}
	}()
	synctest.Wait()
	require.True(t, l.Stats().Paused)
}

func TestRateLimitWhileTheStoreLostItsStateIsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		store := &flakyStore{Store: mem}
		ls := sharedLimiters(t, store, FallbackLocal, 2, 600)
		pauseAndResume(t, ls)

		// The store goes away and comes back without its state; while it
		// is away, p0 is told to retry in 30 s.
		store.down.Store(true)
		mem.forget()
		time.Sleep(time.Second)
		start := time.Now()
		rateLimit(t, ls[0], 30*time.Second)
		store.down.Store(false)
		time.Sleep(2 * time.Second)
		assert.True(t, ls[0].Stats().Paused, "p0 keeps to its 30 s hint")
		assert.True(t, ls[1].Stats().Paused, "p0's rate limit pauses p1 too")
		time.Sleep(25 * time.Second)
		for _, l := range ls {
			assert.True(t, l.Stats().Paused, "%s paused %v after the hint of 30 s", l.Name(), time.Since(start))
		}
	})
}

func TestPauseOutlivesTheStoreLosingItsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		ls := sharedLimiters(t, mem, FallbackLocal, 2, 600)
		pauseAndResume(t, ls)
		start := time.Now()
		rateLimit(t, ls[0], 30*time.Second)
		time.Sleep(time.Second)
		require.True(t, ls[1].Stats().Paused)
		learned := mem.learned("quota")
		t.Logf("learned %d", learned)

		mem.forget() // no outage: the next sync finds an empty store
		time.Sleep(2 * time.Second)
		for _, l := range ls {
			assert.True(t, l.Stats().Paused, "%s paused %v after a hint of 30 s", l.Name(), time.Since(start))
		}
		assert.Equal(t, learned, mem.learned("quota"), "the learned limit is told again")
		time.Sleep(25 * time.Second)
		for _, l := range ls {
			assert.True(t, l.Stats().Paused, "%s paused %v after a hint of 30 s", l.Name(), time.Since(start))
		}
	})
}

// A store that loses its state (Redis restarted without persistence)
// loses the count of the minute's tickets with it: the limiters tell
// their own again, so the sixty-second cap still holds over the store's
// loss. At 90 RPM (2 tickets a second), two limiters with a backlog fill
// the minute's 90 in 45 s; the store forgets at 50 s. Before, the
// limiters went on at 2 a second from there, 110 in the first minute.
func TestTicketsOfTheMinuteOutliveTheStoresLossOfThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		ls := sharedLimiters(t, mem, FallbackLocal, 2, 90)
		var log issueLog
		var wg sync.WaitGroup
		for _, l := range ls {
			log.run(&wg, l, 90)
		}
		time.Sleep(50 * time.Second)
		mem.forget()
		wg.Wait()
		perSec, perMin := log.most()
		assert.Equal(t, 2, perSec, "the most in one second, over every limiter")
		assert.Equal(t, 90, perMin, "the most in sixty seconds, over every limiter")
		assert.Len(t, log.times, 180, "every request was issued")
		for _, l := range ls {
			assertConserved(t, l)
		}
	})
}

// Where the per-second cap holds the minute by itself (R a multiple of
// 60), a store's loss costs no second: the limiters tell their tickets
// again but go on asking for new ones, at the full rate.
func TestAStoresLossCostsNoSecondWhereThePerSecondCapHoldsTheMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		ls := sharedLimiters(t, mem, FallbackLocal, 2, 600)
		var log issueLog
		var wg sync.WaitGroup
		start := time.Now()
		for _, l := range ls {
			log.run(&wg, l, 200)
		}
		time.Sleep(20*time.Second + 500*time.Millisecond)
		mem.forget()
		wg.Wait()
		counts := log.perSecond(start)
		for sec, n := range counts {
			if sec == 20 {
				// The limiters may lease before they have all told the
				// store their tickets of this second again: up to one
				// more second's cap, as the README says.
				assert.LessOrEqual(t, n, 20, "second %d, the loss's", sec)
				continue
			}
			assert.LessOrEqual(t, n, 10, "second %d", sec)
		}
		for sec := 20; sec < 39; sec++ {
			assert.GreaterOrEqual(t, counts[sec], 9, "second %d, after the loss at 20.5 s", sec)
		}
		for _, l := range ls {
			assertConserved(t, l)
		}
	})
}
