package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RateLimited with a nil Context panics, as Acquire does, before it
// touches the limiter: the limiter goes on serving every other caller,
// and the ticket can still be finished.
func TestRateLimitedWithANilContextLeavesTheLimiterUsable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		var nilCtx context.Context
		assert.Panics(t, func() { _ = tk.RateLimited(nilCtx, 0) })
		if !l.mu.TryLock() {
			l.mu.Unlock() // so that the test can end
			t.Fatal("the panic left the limiter locked: every caller would hang")
		}
		l.mu.Unlock()
		tk.Abandon()
		v, err := Do(context.Background(), l, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err, "the limiter still issues tickets")
		assert.Equal(t, 1, v)
		s := l.Stats()
		assert.Equal(t, 0, s.InFlight)
		assert.Zero(t, s.RateLimited, "a report that panicked changed nothing")
		assertConserved(t, l)
	})
}

// Acquire with a nil Context panics with a message that names it, before
// it touches the limiter, which goes on serving every other caller.
func TestAcquireWithANilContextPanicsAndLeavesTheLimiterUsable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		var nilCtx context.Context
		assert.PanicsWithValue(t, "ratellmiter: Acquire: nil Context", func() { _, _ = l.Acquire(nilCtx) })
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err, "the limiter still issues tickets")
		tk.Done()
		s := l.Stats()
		assert.Equal(t, uint64(1), s.Requested, "the call that panicked asked for nothing")
		assertConserved(t, l)
	})
}
