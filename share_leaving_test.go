package ratellmiter

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter that closes takes its caps off the shared quota with its final
// sync: a 600 RPM limiter held to 5 a second by a 300 RPM one gets its 10
// a second from the second after the 300 RPM one closed, not once that
// one's last heartbeat is three seconds old.
func TestClosedLimiterNoLongerHoldsTheSharedQuotaDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		newLimiter := quotaSharer(t, store)
		hi, lo := newLimiter("hi", 600), newLimiter("lo", 300)
		time.Sleep(1500 * time.Millisecond) // both have synced, lo's heartbeat is fresh
		require.NoError(t, lo.Close())
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		start := time.Now()
		var log issueLog
		var wg sync.WaitGroup
		log.run(&wg, hi, 40)
		wg.Wait()
		counts := log.perSecond(start)
		for s := 1; s < 3; s++ {
			assert.Equal(t, 10, counts[s], "hi's tickets in second %d after lo closed", s)
		}
		assertConserved(t, hi)
	})
}
