package ratellmiter

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestALongLineWithManyGivingUpKeepsOrderCapsAndCount queues thousands of
// waiters on one limiter, in virtual time, and sets a random half of them
// to give up at a random moment in the first 50 s of the drain (about
// 1,100 do; the others get their ticket first): those that stay get
// their tickets in the order they asked, no second issues more than the
// per-second cap nor any sixty seconds more than the limit, every ticket
// is accounted for, and the line holds nothing once it is empty.
func TestALongLineWithManyGivingUpKeepsOrderCapsAndCount(t *testing.T) {
	const (
		n   = 5000
		rpm = 6000 // 100 a second: the line drains in about a minute
	)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, rpm, WithRampUp(1, 1))
		rng := rand.New(rand.NewPCG(1, 2))
		type got struct {
			i  int
			at int64
		}
		var mu sync.Mutex
		var order []got
		var cancelled int
		var wg sync.WaitGroup
		for i := range n {
			ctx, cancel := context.WithCancel(t.Context())
			if rng.IntN(2) == 0 {
				time.AfterFunc(time.Duration(rng.Int64N(int64(50*time.Second))), cancel)
			}
			wg.Go(func() {
				defer cancel()
				tk, err := l.Acquire(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					cancelled++
					return
				}
				order = append(order, got{i, tk.issuedAt})
				tk.Done()
			})
			// Each asks once the one before is in line.
			synctest.Wait()
		}
		wg.Wait()

		require.NotEmpty(t, order)
		perSec := map[int64]int{}
		for k, g := range order {
			if k > 0 {
				assert.Less(t, order[k-1].i, g.i, "tickets issued out of the order asked")
				assert.LessOrEqual(t, order[k-1].at, g.at)
			}
			perSec[secOf(g.at)]++
		}
		for sec, c := range perSec {
			assert.LessOrEqual(t, c, rpm/60, "second %d", sec)
			w := 0
			for s := sec - 59; s <= sec; s++ {
				w += perSec[s]
			}
			assert.LessOrEqual(t, w, rpm, "sixty seconds ending %d", sec)
		}
		s := l.Stats()
		assert.Equal(t, n, len(order)+cancelled)
		assert.Equal(t, uint64(n), s.Requested)
		assert.Equal(t, uint64(len(order)), s.Finished)
		assert.Equal(t, uint64(cancelled), s.Cancelled)
		assert.Zero(t, s.Waiting)
		assertConserved(t, l)
		l.mu.Lock()
		assert.Nil(t, l.q.head)
		assert.Nil(t, l.q.tail)
		assert.Nil(t, l.q.retryTail)
		assert.Zero(t, l.q.retries)
		l.mu.Unlock()
		t.Logf("%d issued, %d gave up", len(order), cancelled)
	})
}
