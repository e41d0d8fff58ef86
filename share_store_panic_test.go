package ratellmiter

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
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
		err := failClosedWhileBroken(t, store, store.broken.Store)
		assert.ErrorContains(t, err, "panicked", "the error says what happened")
	})
}
