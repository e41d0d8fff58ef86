package ratellmiter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter that falls back through a long outage keeps only the seconds
// the store still counts: the sync that tells its fallback tickets stays as
// small as a minute's, however long the outage, and the store counts the
// last minute of them.
func TestALongOutageTellsOnlyTheWindowsTickets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &slowStore{MemoryStore: NewMemoryStore()}
		store := &flakyStore{Store: rec}
		l := sharedLimiters(t, store, FallbackLocal, 1, 60)[0] // one a second
		time.Sleep(time.Second)
		store.down.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		done := make(chan int)
		go func() {
			n := 0
			for {
				tk, err := l.Acquire(ctx)
				if err != nil {
					done <- n
					return
				}
				n++
				tk.Done()
			}
		}()
		time.Sleep(time.Hour - time.Second)
		before := len(rec.requests())
		store.down.Store(false) // back for the last second of the hour
		n := <-done
		cancel()
		time.Sleep(2 * time.Second)
		require.Greater(t, n, 3000, "the fallback issued one ticket a second")
		reqs := rec.requests()[before:]
		require.NotEmpty(t, reqs, "the limiter synced again")
		most, stale := 0, 0
		for _, r := range reqs {
			most = max(most, len(r.Used)+len(r.Returned))
			for _, c := range append(r.Used, r.Returned...) {
				if c.Sec < r.Sec-59 {
					stale++
				}
			}
		}
		assert.Zero(t, stale, "seconds told that the store no longer counts")
		assert.LessOrEqual(t, most, 61, "seconds told in one sync after an hour's outage")
		counted := 0
		for _, c := range rec.countsOf("quota") {
			counted += c
		}
		assert.InDelta(t, 60, counted, 2, "the store counts the last minute's fallback tickets")
	})
}

// The store goes down in a second whose tickets a busy limiter has mostly
// leased and issued: the other limiters, which know nothing of that
// second's count, start their fallback share from the next second, so the
// second's cap holds over all of them.
func TestFallbackStartsTheSecondAfterTheStoreWentDown(t *testing.T) {
	for _, n := range []int{2, 4, 10} {
		t.Run(fmt.Sprint(n, " limiters"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := NewMemoryStore()
				m := NewMonitor()
				t.Cleanup(func() { m.Stop() })
				var links []*flakyStore
				var ls []*BucketRateLimiter
				for i := range n {
					link := &flakyStore{Store: mem}
					links = append(links, link)
					ls = append(ls, quotaLimiter(t, m, link, fmt.Sprint("p", i), 600, nil))
				}
				time.Sleep(2 * time.Second) // every limiter knows n live
				ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
				defer cancel()
				var mu sync.Mutex
				perSec := map[int64]int{}
				var wg sync.WaitGroup
				drive := func(l *BucketRateLimiter) {
					for range 4 {
						wg.Go(func() {
							for {
								tk, err := l.Acquire(ctx)
								if err != nil {
									return
								}
								mu.Lock()
								perSec[time.Now().Unix()]++
								mu.Unlock()
								tk.Done()
							}
						})
					}
				}
				drive(ls[0])
				time.Sleep(1750 * time.Millisecond) // three quarters into a second
				for _, link := range links {
					link.down.Store(true)
				}
				for _, l := range ls[1:] {
					drive(l)
				}
				wg.Wait()
				after := 0
				for sec, got := range perSec {
					assert.LessOrEqual(t, got, 10, "tickets in second %d, over every limiter", sec)
					if sec > time.Now().Unix()-3 {
						after += got
					}
				}
				assert.GreaterOrEqual(t, after, 2*min(n*max(1, 10/n), 10)-1, "the fallback issues its shares in the seconds after")
			})
		})
	}
}

// A limiter paused and resumed again and again while its store is out of
// reach tells the store, once back, only what the last pause and resume
// say: not a run of events that grows with the outage.
func TestALongOutageTellsOnlyTheLastPauseAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &slowStore{MemoryStore: NewMemoryStore()}
		store := &flakyStore{Store: rec}
		ls := sharedLimiters(t, store, FallbackLocal, 2, 600)
		l := ls[0]
		time.Sleep(time.Second)
		store.down.Store(true)
		time.Sleep(time.Second)
		pauses := l.Stats().Pauses
		for range 500 { // a 429, then the canary succeeds: about 2 s each
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			giveUp(t, tk, time.Second)
			tk, err = l.Acquire(context.Background()) // the canary
			require.NoError(t, err)
			tk.Done()
		}
		require.Equal(t, pauses+500, l.Stats().Pauses)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Hour) // paused when the store comes back
		before := len(rec.requests())
		store.down.Store(false)
		time.Sleep(2 * time.Second)
		most := 0
		for _, r := range rec.requests()[before:] {
			most = max(most, len(r.Events))
		}
		assert.LessOrEqual(t, most, 2, "events told in one sync after %d pauses", 501)
		paused, _ := rec.quotaState("quota")
		assert.True(t, paused, "the last pause is shared")
		assert.True(t, ls[1].Stats().Paused, "the other limiter pauses")
	})
}
