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

// Two live limiters misconfigured with one process id on a shared quota
// overtake each other's numbering (see SyncReply.LastSeq). Each numbers on
// above the other by a random step, so neither takes the other's request
// for its own sent twice, nor its grant: the quota's per-second cap holds
// over both, and both get their tickets.
func TestTwoLiveLimitersWithOneProcessIDKeepToTheQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		newLimiter := quotaSharer(t, NewMemoryStore())
		a := newLimiter("same", 600)
		time.Sleep(time.Millisecond) // created apart, as two processes are
		b := newLimiter("same", 600)
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var log issueLog
		var wg sync.WaitGroup
		for _, l := range []*BucketRateLimiter{a, b} {
			wg.Go(func() {
				for range 100 {
					tk, err := l.Acquire(ctx)
					if !assert.NoError(t, err, "a limiter got no ticket") {
						return
					}
					log.mu.Lock()
					log.times = append(log.times, time.Now())
					log.mu.Unlock()
					tk.Done()
				}
			})
		}
		wg.Wait()
		perSec, perMin := log.most()
		assert.LessOrEqual(t, perSec, 10, "most tickets in a second over both: %v", log.perSecond(start))
		assert.LessOrEqual(t, perMin, 600)
		require.Len(t, log.times, 200)
	})
}
