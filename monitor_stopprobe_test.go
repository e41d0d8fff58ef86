package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// While Stop waits for the Monitor's goroutines (here the final sync of a
// limiter sharing a quota, with a store that does not answer), a paused
// limiter whose probe falls due cannot start it any more. It must wait for
// Stop to end its pause, not fire its timer again and again: that spin
// keeps the clock from moving, so under synctest Stop never returns.
func TestAProbeDueWhileTheMonitorStopsWaitsForTheStop(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		synctest.Test(t, func(t *testing.T) {
			m := NewMonitor()
			paused, err := NewBucketRateLimiter(600, WithMonitor(m), WithService(newScriptedService(openAnswer)))
			require.NoError(t, err)
			slow := &slowStore{MemoryStore: NewMemoryStore()}
			shared := quotaLimiter(t, m, slow, "a", 600, []StoreOption{WithSyncTimeout(2 * time.Second)})

			tk, err := paused.Acquire(context.Background())
			require.NoError(t, err)
			giveUp(t, tk, time.Second) // its probe is due in a second
			tk, err = shared.Acquire(context.Background())
			require.NoError(t, err)
			slow.slow(-1, nil)         // the store stops answering
			giveUp(t, tk, time.Minute) // news for the final sync to tell
			start := time.Now()
			require.NoError(t, m.Stop())
			assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Stop waited for the final sync")
			assert.False(t, paused.Stats().Paused, "Stop ended the pause")
		})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Stop did not return: a limiter spun on a probe it could not start")
	}
}
