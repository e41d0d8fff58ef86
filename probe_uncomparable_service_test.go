package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfProbing is a service of a type == cannot compare (it holds a map)
// whose probe asks the server through the service's own limiter.
type selfProbing struct {
	models map[string]int
	l      **BucketRateLimiter
}

func (selfProbing) ServiceName() string                 { return "self" }
func (s selfProbing) Limiter(string) *BucketRateLimiter { return *s.l }
func (s selfProbing) IsBlocked(ctx context.Context) (bool, error) {
	tk, err := (*s.l).Acquire(ctx)
	if err != nil {
		return true, err
	}
	tk.Done() // the server answered
	return false, nil
}

// A probe whose service is of a type == cannot compare still passes the
// pause of its own limiter: the pause ends at the first probe.
func TestAProbeOfAnUncomparableServicePassesItsOwnPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l *BucketRateLimiter
		svc := selfProbing{models: map[string]int{}, l: &l}
		l = newLimiter(t, 600, WithService(svc), WithProbeInterval(time.Second, time.Minute, 2), WithProbeTimeout(5*time.Second))
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.rateLimitedFinal(0, false) // pauses l
		require.True(t, l.Stats().Paused)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.False(t, l.Stats().Paused, "the first probe found the server open")
	})
}
