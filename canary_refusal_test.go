package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A canary the server refuses after its timeout is still a canary sent
// during the pause: an older canary that comes back well later is old news.
func TestALateCanaryDoesNotOverrideANewerRefusalPastItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithProbeTimeout(5*time.Second))
		a, _ := l.Acquire(context.Background())
		require.NoError(t, a.RateLimited(context.Background(), time.Second), "a goes out as the canary")
		next := acquireAsync(l)
		time.Sleep(6 * time.Second) // a is past its timeout
		b := <-next                 // b went out as the next canary
		require.NotNil(t, b)
		require.True(t, b.canary)
		time.Sleep(6 * time.Second)  // b is past its timeout too
		giveUp(t, b, 30*time.Second) // and then the server refuses it
		time.Sleep(2 * time.Second)
		a.Done() // a, sent before b, ends well
		st := l.Stats()
		assert.True(t, st.Paused, "the server's newer refusal stands")
		assertConserved(t, l)
	})
}
