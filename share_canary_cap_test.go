package ratellmiter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter rate limited late in a second, while another limiter sharing
// the quota has issued the rest of that second's tickets, sends its canary
// no sooner than the second has room for it: the per-second cap holds over
// both, the canary included.
func TestASharedCanaryKeepsToThePerSecondCap(t *testing.T) {
	for _, at := range []time.Duration{850, 950} {
		t.Run(fmt.Sprint("rate limited at ", at*time.Millisecond), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 600, WithLearning(false))
				a, b := ls[0], ls[1] // no service: the probe is a canary
				var log issueLog
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						for {
							tk, err := b.Acquire(ctx)
							if err != nil {
								return
							}
							log.mu.Lock()
							log.times = append(log.times, time.Now())
							log.mu.Unlock()
							tk.Done()
						}
					})
				}
				time.Sleep(5 * time.Second)
				tk, err := a.Acquire(context.Background())
				require.NoError(t, err)
				log.mu.Lock()
				log.times = append(log.times, time.Now())
				log.mu.Unlock()
				time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(at * time.Millisecond)))
				require.NoError(t, tk.RateLimited(context.Background(), 10*time.Millisecond))
				log.mu.Lock()
				log.times = append(log.times, time.Now())
				log.mu.Unlock()
				tk.Done()
				time.Sleep(3 * time.Second)
				cancel()
				wg.Wait()
				perSec, _ := log.most()
				assert.LessOrEqual(t, perSec, 10, "the most in one second over both limiters, the canary included")
			})
		})
	}
}
