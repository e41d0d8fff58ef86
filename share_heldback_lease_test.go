package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A paused limiter whose waiter is held back by its own limits (here its
// in-flight cap, by a long call) does not take the probe lease when its
// probe falls due: it could not send the canary, and every limiter
// sharing the quota would stay paused until the lease expired. Another
// limiter with a request to send probes as soon as it has one.
func TestALimiterThatCannotSendTheCanaryLeavesTheProbeLeaseToOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		m := NewMonitor()
		defer m.Stop()
		a := quotaLimiter(t, m, store, "a", 600, nil, WithMaxInFlight(1)) // no service: canaries decide
		b := quotaLimiter(t, m, store, "b", 600, nil)
		long, err := a.Acquire(context.Background())
		require.NoError(t, err)
		defer long.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			if tk, err := a.Acquire(ctx); err == nil { // waits for the long call
				tk.Done()
			}
		}()
		time.Sleep(time.Second)
		tk, err := b.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Second)
		time.Sleep(1500 * time.Millisecond) // the probe is due since 0.5 s
		synctest.Wait()
		_, holder := store.quotaState("quota")
		assert.Empty(t, holder, "nobody holds the probe lease: a cannot send the canary")

		sendsTheCanaryAtOnce(t, b)
	})
}

// A paused limiter whose waiter was held back by its in-flight cap asks for
// the probe lease as soon as the call that held it back ends, and sends
// its canary then.
func TestAHeldBackLimiterProbesWhenItsCallEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		m := NewMonitor()
		defer m.Stop()
		a := quotaLimiter(t, m, store, "a", 600, nil, WithMaxInFlight(1))
		b := quotaLimiter(t, m, store, "b", 600, nil)
		long, err := a.Acquire(context.Background())
		require.NoError(t, err)
		issued := make(chan time.Time, 1)
		go func() {
			tk, err := a.Acquire(context.Background()) // waits for the long call
			if err == nil {
				issued <- time.Now()
				tk.Done()
			}
		}()
		time.Sleep(time.Second)
		tk, err := b.Acquire(context.Background())
		require.NoError(t, err)
		giveUp(t, tk, time.Second)
		time.Sleep(2*time.Second + 234*time.Millisecond) // the probe is due since 1.234 s
		end := time.Now()
		long.Done()
		assert.Equal(t, time.Duration(0), (<-issued).Sub(end), "the canary goes when the call ends")
		synctest.Wait()
		assert.False(t, a.Stats().Paused, "the canary's success ends the pause")
	})
}

// sendsTheCanaryAtOnce checks that the paused limiter l issues a ticket
// at once, as its canary, and that the canary's success ends the pause.
func sendsTheCanaryAtOnce(t *testing.T, l *BucketRateLimiter) {
	t.Helper()
	start := time.Now()
	canary, err := l.Acquire(context.Background())
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Second, "%s sends the canary at once", l.Name())
	canary.Done()
	synctest.Wait()
	assert.False(t, l.Stats().Paused, "the canary's success ends the pause")
}
