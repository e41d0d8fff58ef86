package ratellmiter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A nil pointer given as the Store (a *MemoryStore or *redisstore.Store
// variable that was never set) is refused as nil is, where the option is
// given, instead of panicking later on a goroutine of the Monitor, where
// nobody can recover it.
func TestANilPointerStoreIsRefused(t *testing.T) {
	m := newStoppedAtEnd(t)
	var store *MemoryStore
	l, err := NewBucketRateLimiter(60, WithMonitor(m), WithStore(store, "quota"))
	if l != nil {
		l.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithStore: nil store (a nil *ratellmiter.MemoryStore)")
}
