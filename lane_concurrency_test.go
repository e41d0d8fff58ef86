package ratellmiter

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Callers of Acquire and TryAcquire on many goroutines, some reading
// Stats (which closes the lane), get tickets no closer than the gap less
// the lateness a slot makes up, within every second's cap and the
// 60-second window.
func TestConcurrentCallersKeepSpacingCapAndWindow(t *testing.T) {
	for seed := range uint64(10) {
		synctest.Test(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			rpm := []int{150, 601, 3001, 6000, 59_999}[r.IntN(5)]
			ramp := 0.1 + 0.9*r.Float64()
			l := newLimiter(t, rpm, WithRampUp(ramp, ramp), WithIdleRamp(r.IntN(2) == 0))
			var mu sync.Mutex
			var at []int64
			var wg sync.WaitGroup
			start := time.Now()
			for g := range 12 {
				wg.Go(func() {
					rr := rand.New(rand.NewPCG(seed, uint64(g)))
					for time.Since(start) < 70*time.Second {
						var tk *Ticket
						if rr.IntN(2) == 0 {
							var ok bool
							if tk, ok = l.TryAcquire(); !ok {
								time.Sleep(time.Duration(rr.IntN(3_000_000)))
								continue
							}
						} else {
							var err error
							tk, err = l.Acquire(context.Background())
							require.NoError(t, err)
						}
						mu.Lock()
						at = append(at, tk.issuedAt)
						mu.Unlock()
						if rr.IntN(20) == 0 {
							_ = l.Stats()
						}
						tk.Done()
						time.Sleep(time.Duration(rr.IntN(5_000_000)))
					}
				})
			}
			wg.Wait()
			slices.Sort(at)
			b := newBucket(rpm, ramp, ramp, false)
			slack := slotSlack // the most lateness a slot makes up
			perSec := map[int64]int{}
			for i, v := range at {
				perSec[secOf(v)]++
				if i > 0 {
					require.GreaterOrEqual(t, v-at[i-1], b.gap-slack, "seed %d rpm %d: tickets %d and %d", seed, rpm, i-1, i)
				}
			}
			for s, n := range perSec {
				require.LessOrEqual(t, n, b.perSec, "second %d", s)
				w := 0
				for k := s - 59; k <= s; k++ {
					w += perSec[k]
				}
				require.LessOrEqual(t, w, rpm, "window to %d", s)
			}
			assertConserved(t, l)
			assert.Positive(t, len(at))
		})
	}
}
