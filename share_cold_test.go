package ratellmiter

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

// Limiters created while their store is unreachable know no number of
// processes: they share the rate as WithExpectedProcesses says, or else
// take one ticket a second each.
func TestFallbackBeforeTheFirstSync(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []StoreOption
		atLeast int64 // tickets in 10 s, over the four limiters
		atMost  int64
	}{
		{"expecting 4 processes", []StoreOption{WithExpectedProcesses(4)}, 4 * 2 * 10, 10*10 + 4}, // 10/4 a second each, rounded down
		{"expecting none", nil, 4 * 9, 4*10 + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &flakyStore{Store: NewMemoryStore()}
				store.down.Store(true) // down from the start
				m := NewMonitor()
				t.Cleanup(func() { m.Stop() })
				var ls []*BucketRateLimiter
				for i := range 4 { // 600 RPM in all: 10 a second
					l, err := NewBucketRateLimiter(600, WithMonitor(m), WithStore(store, "quota",
						append([]StoreOption{WithProcessID(fmt.Sprint("p", i))}, tc.opts...)...))
					if err != nil {
						t.Fatal(err)
					}
					ls = append(ls, l)
				}
				time.Sleep(time.Second) // every limiter knows the store is down
				var n atomic.Int64
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var wg sync.WaitGroup
				for _, l := range ls {
					for range 200 {
						wg.Go(func() {
							if tk, err := l.Acquire(ctx); err == nil {
								n.Add(1)
								tk.Done()
							}
						})
					}
				}
				wg.Wait()
				assert.GreaterOrEqual(t, n.Load(), tc.atLeast)
				assert.LessOrEqual(t, n.Load(), tc.atMost, "10 s of a 600 RPM quota shared by 4 processes")
			})
		})
	}
}
