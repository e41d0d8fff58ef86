package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter paused by the store learns only from successes that come
// back during the pause: one answered before it says nothing of the rate.
func TestASharedPauseLearnsNothingFromASuccessBeforeIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 1200,
			WithService(newScriptedService(openAnswer)))
		time.Sleep(2 * time.Second) // both have synced
		a, _ := ls[0].Acquire(context.Background())
		x, _ := ls[1].Acquire(context.Background())
		time.Sleep(100 * time.Millisecond)
		y, _ := ls[1].Acquire(context.Background())
		y.Done() // answered before the server went down
		retried := []<-chan error{handBack(a, 5*time.Second)}
		time.Sleep(time.Second)
		require.True(t, ls[1].Stats().Paused)
		retried = append(retried, handBack(x, 5*time.Second)) // refused: the server is down
		for _, r := range retried {
			require.NoError(t, <-r)
		}
		a.Done()
		x.Done()
		time.Sleep(2 * time.Second)
		for i, l := range ls {
			assert.False(t, l.Stats().Paused)
			assert.Equal(t, 1200, l.RPM(), "p%d: an outage teaches nothing", i)
		}
	})
}
