package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A nil pointer given as the Store (a *MemoryStore or *redisstore.Store
// variable that was never set) is refused as nil is, where the option is
// given, instead of panicking later on a goroutine of the Monitor, where
// nobody can recover it.
func TestANilPointerStoreIsRefused(t *testing.T) {
	m := newStoppedAtEnd(t)
	var store *MemoryStore
	l, err := NewBucketRateLimiter(60, WithMonitor(m), WithStore(store, "quota"))
	if l != nil {
		l.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithStore: nil store (a nil *ratellmiter.MemoryStore)")
}

// A nil pointer given as the Observer, of a limiter or of its Monitor,
// observes nothing: Acquire neither panics nor loses the ticket it issued.
func TestANilPointerObserverObservesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var obs *waitCounter
		mon := NewMonitor(WithObserver(obs))
		t.Cleanup(func() { mon.Stop() })
		for _, l := range []*BucketRateLimiter{
			newLimiter(t, 600, WithObserver(obs)),
			newLimiter(t, 600, WithMonitor(mon)),
		} {
			var tk *Ticket
			var err error
			require.NotPanics(t, func() { tk, err = l.Acquire(context.Background()) })
			require.NoError(t, err)
			tk.Done()
			assertConserved(t, l)
			assert.Zero(t, l.Stats().InFlight)
		}
	})
}
