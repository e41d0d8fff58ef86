package ratellmiter

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverflowHugeProbeTimeoutStillGetsTheSharedProbeLease(t *testing.T) {
	for _, d := range []time.Duration{math.MaxInt64, 280 * 365 * 24 * time.Hour} {
		t.Run(d.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 1, 600, WithProbeTimeout(d))[0]
				tk, err := l.Acquire(context.Background())
				require.NoError(t, err)
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				// The retry is the canary: it needs the probe lease, which
				// lasts the probe timeout and then some.
				require.NoError(t, tk.RateLimited(ctx, time.Second), "the retry went out as the canary")
				assert.Less(t, time.Since(start), 2*time.Second)
				tk.Done()
				synctest.Wait()
				assert.False(t, l.Stats().Paused, "the canary's success resumed the quota")
			})
		})
	}
}
