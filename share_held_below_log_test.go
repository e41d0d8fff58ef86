package ratellmiter

import (
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter whose own limit changes while another limiter holds the
// shared quota below it says so each time the quota comes to hold it
// below its own limit: lowered to the other's limit it is held no more,
// and raised again it is held again, at the same caps in force.
func TestSharedQuotaSaysAgainWhenItHoldsARaisedLimiterBelow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		rec := &logRecorder{}
		hi, err := NewBucketRateLimiter(600, WithMonitor(m), WithName("hi"), WithLogger(slog.New(rec)),
			WithStore(store, "quota", WithProcessID("hi")))
		require.NoError(t, err)
		_, err = NewBucketRateLimiter(300, WithMonitor(m), WithName("lo"), WithStore(store, "quota", WithProcessID("lo")))
		require.NoError(t, err)
		time.Sleep(2 * time.Second)
		require.Len(t, rec.matching("the shared quota holds 300 RPM"), 1, "hi held below 600: %q", rec.matching("shared quota"))
		require.NoError(t, hi.SetRPM(300))
		time.Sleep(2 * time.Second)
		assert.Len(t, rec.matching("the shared quota no longer holds it below 300 RPM"), 1,
			"hi, lowered to 300, is held below it no more: %q", rec.matching("shared quota"))
		require.NoError(t, hi.SetRPM(600))
		time.Sleep(2 * time.Second)
		assert.Len(t, rec.matching("the shared quota holds 300 RPM"), 2,
			"hi, raised to 600 again, is held below it again: %q", rec.matching("shared quota"))
	})
}
