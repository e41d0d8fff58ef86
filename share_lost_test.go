package ratellmiter

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lossyStore applies syncs but loses the replies of the next lose ones,
// as a Redis whose answer comes after the sync timeout does; while down,
// it applies nothing.
type lossyStore struct {
	*MemoryStore
	down atomic.Bool
	lose atomic.Int32
}

func (s *lossyStore) Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error) {
	if s.down.Load() {
		return SyncReply{}, context.DeadlineExceeded
	}
	rep, err := s.MemoryStore.Sync(ctx, key, req)
	if s.lose.Add(-1) >= 0 {
		return SyncReply{}, context.DeadlineExceeded
	}
	s.lose.Store(0)
	return rep, err
}

// counts returns the tickets the store counts per second for key.
func (m *MemoryStore) countsOf(key string) map[int64]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := map[int64]int{}
	for s, n := range m.quotas[key].counts {
		if n != 0 {
			c[s] = n
		}
	}
	return c
}

func TestSyncWhoseReplyIsLostCountsUsedTicketsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &lossyStore{MemoryStore: NewMemoryStore()}
		l := sharedLimiters(t, store, FallbackLocal, 1, 600)[0]
		time.Sleep(time.Second) // synced, idle
		store.down.Store(true)
		time.Sleep(time.Second)
		for range 5 { // five tickets in the fallback
			tk, err := l.Acquire(context.Background())
			require.NoError(t, err)
			tk.Done()
		}
		store.down.Store(false)
		store.lose.Store(2) // the next two syncs are applied, their replies lost
		time.Sleep(3 * time.Second)
		total := 0
		for _, n := range store.countsOf("quota") {
			total += n
		}
		assert.Equal(t, 5, total, "tickets counted by the store (%v)", store.countsOf("quota"))
	})
}

func TestSyncWhoseReplyIsLostLeavesTheCountsRight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &lossyStore{MemoryStore: NewMemoryStore()}
		ls := sharedLimiters(t, store, FallbackLocal, 2, 600)
		var log issueLog
		var wg sync.WaitGroup
		log.run(&wg, ls[0], 30)
		log.run(&wg, ls[1], 30)
		for range 3 {
			time.Sleep(700 * time.Millisecond)
			store.lose.Store(1) // a lease or a hand-back whose reply is lost
		}
		wg.Wait()
		time.Sleep(2 * time.Second) // leases left over are handed back

		issued := map[int64]int{}
		for _, at := range log.times {
			issued[at.Unix()]++
		}
		assert.Len(t, log.times, 60)
		assert.True(t, maps.Equal(issued, store.countsOf("quota")),
			"tickets issued per second %v, counted by the store %v", issued, store.countsOf("quota"))
	})
}
