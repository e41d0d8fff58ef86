package ratellmiter

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Limiters of different requests per minute sharing a quota (a deploy
// that changes it, say) are held together to the lowest while the
// limiter that has it is live; once it is closed and no longer live, the
// others regain their own rate.
func TestSharedLimitersOfDifferentRPMAreHeldToTheLowest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		newLimiter := func(id string, rpm int) *BucketRateLimiter {
			l, err := NewBucketRateLimiter(rpm, WithMonitor(m), WithName(id), WithStore(store, "quota", WithProcessID(id)))
			require.NoError(t, err)
			return l
		}
		hi, lo := newLimiter("hi", 600), newLimiter("lo", 300)
		start := time.Now()
		var log issueLog
		var wg sync.WaitGroup
		log.run(&wg, hi, 150)
		log.run(&wg, lo, 150)
		wg.Wait()
		perSec, perMin := log.most()
		assert.LessOrEqual(t, perSec, 5, "most tickets in a second, over both limiters")
		assert.LessOrEqual(t, perMin, 300, "most tickets in sixty seconds, over both limiters")
		counts := log.perSecond(start)
		for s := 5; s < 55; s++ {
			assert.Equal(t, 5, counts[s], "tickets in second %d", s)
		}
		assertConserved(t, hi)
		assertConserved(t, lo)

		lo.Close()
		time.Sleep(65 * time.Second) // the window empties, lo is no longer live
		start = time.Now()
		var after issueLog
		after.run(&wg, hi, 200)
		wg.Wait()
		counts = after.perSecond(start)
		for s := 2; s < 18; s++ {
			assert.Equal(t, 10, counts[s], "hi's tickets in second %d, lo closed", s)
		}
		assertConserved(t, hi)
	})
}
