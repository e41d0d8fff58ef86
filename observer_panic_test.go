package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// panickyObserver panics on every wait it is told.
type panickyObserver struct{}

func (panickyObserver) ObserveWait(string, time.Duration, bool) { panic("observer broke") }

// An Observer that panics makes Acquire, TryAcquire and RateLimited panic,
// but the ticket they issued is not lost: it is finished before the panic
// goes on, so it holds no in-flight slot.
func TestAnObserverThatPanicsLosesNoTicket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 60, WithObserver(panickyObserver{}), WithMaxInFlight(1))
		ctx := context.Background()
		assert.PanicsWithValue(t, "observer broke", func() { _, _ = l.Acquire(ctx) }, "at once")
		time.Sleep(time.Second)
		assert.PanicsWithValue(t, "observer broke", func() { _, _ = l.TryAcquire() })
		assert.PanicsWithValue(t, "observer broke", func() { _, _ = l.Acquire(ctx) }, "after a wait")
		st := l.Stats()
		assert.Zero(t, st.InFlight)
		assert.Equal(t, uint64(3), st.Finished)
		assertConserved(t, l)

		ok := newLimiter(t, 60, WithMaxInFlight(1))
		tk, err := ok.Acquire(ctx)
		require.NoError(t, err)
		ok.observer = panickyObserver{}
		assert.PanicsWithValue(t, "observer broke", func() { _ = tk.RateLimited(ctx, time.Second) }, "on the retry")
		st = ok.Stats()
		assert.Zero(t, st.InFlight)
		assertConserved(t, ok)
	})
}
