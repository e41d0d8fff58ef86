package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limit learned on a quota that limiters of 1200 and 600 RPM share
// climbs back by clean minutes for each: the 600 RPM limiter, back at its
// own limit after a clean minute, does not end the learned limit for the
// 1200 RPM one, which would jump from the learned 600 to its 1200 at once
// (and keep it once the 600 RPM one is gone).
func TestLearnedLimitOnAQuotaOfMixedCapsIsNotEndedByTheLowerLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		newLimiter := quotaSharer(t, store)
		hi, lo := newLimiter("hi", 1200), newLimiter("lo", 600)
		now := time.Now().UnixNano()
		// Another limiter learned 600 RPM on the quota.
		_, err := store.Sync(context.Background(), "quota", SyncRequest{ID: "x", Now: now, Sec: now / 1e9,
			SetLearned: true, Learned: 600, LiveTTL: time.Second})
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		require.Equal(t, 600, hi.RPM(), "hi works at the learned limit")
		time.Sleep(time.Minute)
		lo.Stats()                  // lo, a clean minute later, is back at its own 600
		time.Sleep(2 * time.Second) // both have synced
		assert.LessOrEqual(t, hi.RPM(), 660, "hi after one clean minute: one step of 60 above 600 at most")
	})
}
