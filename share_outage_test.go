package ratellmiter

import (
	"context"
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
