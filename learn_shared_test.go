package ratellmiter

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One pause of a shared quota halves the shared limit once, however many
// of the limiters sharing it saw the server admit part of their traffic;
// and a limiter resumed by the store still judges the pause when the one
// that probed saw nothing to learn from.
func TestASharedPauseHalvesTheSharedLimitOnce(t *testing.T) {
	for _, admitted := range [][2]bool{{true, true}, {false, true}} {
		t.Run(fmt.Sprintf("admitted %v", admitted), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 1200,
					WithService(newScriptedService(openAnswer)))
				time.Sleep(2 * time.Second) // both have synced
				pauseShared(t, ls, admitted)
				time.Sleep(2 * time.Second)
				for i, l := range ls {
					assert.False(t, l.Stats().Paused)
					assert.Equal(t, 600, l.RPM(), "p%d: the quota's limit is halved once", i)
				}
			})
		})
	}
}

// pauseShared pauses the quota that the two limiters ls share: each takes
// a ticket, and another 100 ms later; p0's first is refused, and p0
// probes; p1 learns of the pause from the store, then its first is
// refused too. Each limiter's second ticket is then admitted during the
// pause (its success comes back while paused) when admitted says so, else
// refused as well. pauseShared returns once every retry went through and
// every ticket is done.
func pauseShared(t *testing.T, ls []*BucketRateLimiter, admitted [2]bool) {
	t.Helper()
	var first, second [2]*Ticket
	for i, l := range ls {
		var err error
		first[i], err = l.Acquire(context.Background())
		require.NoError(t, err)
	}
	time.Sleep(100 * time.Millisecond)
	for i, l := range ls {
		var err error
		second[i], err = l.Acquire(context.Background())
		require.NoError(t, err)
	}
	retried := []<-chan error{handBack(first[0], 5*time.Second)}
	time.Sleep(time.Second)
	require.True(t, ls[1].Stats().Paused)
	retried = append(retried, handBack(first[1], 5*time.Second))
	synctest.Wait()
	for i := range ls {
		if admitted[i] {
			second[i].Done()
		} else {
			retried = append(retried, handBack(second[i], 5*time.Second))
		}
	}
	for _, r := range retried {
		require.NoError(t, <-r)
	}
	for i := range ls {
		first[i].Done()
		second[i].Done()
	}
}
