package ratellmiter

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSharedLimitersRegainTheFullRateAfterTheRampOfAResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := newScriptedService(openAnswer)
		// Learning off: a ticket of another limiter that succeeds during
		// the pause would halve the limit, which is not what is tested.
		ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 3, 600, WithService(svc), WithLearning(false))
		start := time.Now()
		tk, err := ls[0].Acquire(context.Background())
		require.NoError(t, err)
		var log issueLog
		var wg sync.WaitGroup
		for _, l := range ls {
			// 900 in all, 90 s at 10 a second: each limiter still
			// wants tickets through the seconds checked.
			log.run(&wg, l, 300)
		}
		time.Sleep(5 * time.Second)
		giveUp(t, tk, time.Second) // paused for a second, then resumed
		wg.Wait()
		counts := log.perSecond(start)
		assert.Equal(t, []int{5, 8}, []int{counts[6], counts[7]}, "the shared ramp after the resume")
		for s := 8; s < 55; s++ {
			assert.Equal(t, 10, counts[s], "tickets in second %d, once the ramp is over", s)
		}
		for _, l := range ls {
			assertConserved(t, l)
		}
	})
}

// The store paces a shared quota: a limiter's own idle ramp, which counts
// only the tickets it issued itself, would space its tickets wider than the
// slots the store leases it.
func TestSharedLimitersWithIdleRampIssueEverySlotOfTheQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 3, 600, WithIdleRamp(true))
		start := time.Now()
		var log issueLog
		var wg sync.WaitGroup
		for _, l := range ls {
			// 900 in all, 90 s at 10 a second: each limiter still
			// wants tickets through the seconds checked.
			log.run(&wg, l, 300)
		}
		wg.Wait()
		counts := log.perSecond(start)
		for s := 5; s < 55; s++ {
			assert.Equal(t, 10, counts[s], "tickets in second %d", s)
		}
		for _, l := range ls {
			assertConserved(t, l)
		}
	})
}
