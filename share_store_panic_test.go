package ratellmiter

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// panickyStore is a Store whose Sync panics while broken, as a Store of
// one's own with a bug may.
type panickyStore struct {
	Store
	broken atomic.Bool
}

func (p *panickyStore) Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error) {
	if p.broken.Load() {
		panic("store: index out of range [3] with length 3")
	}
	return p.Store.Sync(ctx, key, req)
}

// A Store whose Sync panics fails as a store that cannot be reached: the
// sync runs on the Monitor's goroutine, where a panic would end the
// program, so it is recovered and taken for the store's error, the
// failure policy applies, and the limiter recovers once Sync works again.
func TestAStoreThatPanicsCountsAsUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &panickyStore{Store: NewMemoryStore()}
		l := sharedLimiters(t, store, FailClosed, 1, 600, WithRampUp(1, 1))[0]
		tk, err := l.Acquire(context.Background())
		require.NoError(t, err)
		tk.Done()

		store.broken.Store(true)
		time.Sleep(time.Second)
		_, err = l.Acquire(context.Background())
		assert.ErrorIs(t, err, ErrStoreUnavailable)
		assert.ErrorContains(t, err, "panicked", "the error says what happened")

		store.broken.Store(false)
		time.Sleep(syncTick) // the next retry
		synctest.Wait()
		tk, err = l.Acquire(context.Background())
		require.NoError(t, err, "the limiter recovers by itself")
		tk.Done()
		assertConserved(t, l)
	})
}
