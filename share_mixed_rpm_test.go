package ratellmiter

import (
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Limiters of different requests per minute sharing a quota (a deploy
// that changes it, say) are held together to the lowest while the
// limiter that has it is live; once it is closed and no longer live, the
// others regain their own rate.
func TestSharedLimitersOfDifferentRPMAreHeldToTheLowest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		newLimiter := quotaSharer(t, store)
		hi, lo := newLimiter("hi", 600), newLimiter("lo", 300)
		start := time.Now()
		var log issueLog
		var wg sync.WaitGroup
		log.run(&wg, hi, 150)
		log.run(&wg, lo, 150)
		wg.Wait()
		perSec, perMin := log.most()
		assert.LessOrEqual(t, perSec, 5, "most tickets in a second, over both limiters")
		assert.LessOrEqual(t, perMin, 300, "most tickets in sixty seconds, over both limiters")
		counts := log.perSecond(start)
		for s := 5; s < 55; s++ {
			assert.Equal(t, 5, counts[s], "tickets in second %d", s)
		}
		assertConserved(t, hi)
		assertConserved(t, lo)
		assert.Equal(t, 300, hi.Stats().SharedRPM, "Stats says the quota holds hi to lo's limit")
		assert.Zero(t, lo.Stats().SharedRPM, "nothing holds lo below its own")

		lo.Close()
		time.Sleep(65 * time.Second) // the window empties, lo is no longer live
		start = time.Now()
		var after issueLog
		after.run(&wg, hi, 200)
		wg.Wait()
		counts = after.perSecond(start)
		for s := 2; s < 18; s++ {
			assert.Equal(t, 10, counts[s], "hi's tickets in second %d, lo closed", s)
		}
		assert.Zero(t, hi.Stats().SharedRPM, "lo closed, nothing holds hi below its own")
		assertConserved(t, hi)
	})
}

// When the store becomes unreachable, a limiter whose own rate is above
// the caps the store held the quota to falls back to its share of those
// caps, not of its own rate: with a 600 and a 300 RPM limiter live, each
// issues at most 5/2 = 2 a second on its own, where its own rate would
// give the 600 RPM one 10/2 = 5, and the quota's 5 a second would be
// exceeded. Its log says which limit the shared quota held.
func TestFallbackOfAHigherLimiterTakesItsShareOfTheCapsInForce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		var links []*flakyStore
		rec := &logRecorder{}
		newLimiter := func(id string, rpm int) *BucketRateLimiter {
			link := &flakyStore{Store: mem}
			links = append(links, link)
			l, err := NewBucketRateLimiter(rpm, WithMonitor(m), WithName(id), WithStore(link, "quota", WithProcessID(id)),
				WithLogger(slog.New(rec)))
			require.NoError(t, err)
			return l
		}
		hi, lo := newLimiter("hi", 600), newLimiter("lo", 300)
		var wg sync.WaitGroup
		var warm issueLog
		warm.run(&wg, hi, 10)
		warm.run(&wg, lo, 10)
		wg.Wait()
		time.Sleep(2 * time.Second) // both have synced and are live
		for _, link := range links {
			link.down.Store(true)
		}
		time.Sleep(time.Second) // both found the store down
		start := time.Now()
		var fallback issueLog
		fallback.run(&wg, hi, 40)
		time.Sleep(10 * time.Second)
		counts := fallback.perSecond(start)
		for s := 1; s < 10; s++ {
			assert.LessOrEqual(t, counts[s], 2, "hi's fallback tickets in second %d", s)
		}
		assert.Positive(t, counts[5], "the fallback still issues")
		for _, link := range links {
			link.down.Store(false)
		}
		wg.Wait()
		assertConserved(t, hi)
		assertConserved(t, lo)
		held := rec.matching("the shared quota holds 300 RPM")
		assert.NotEmpty(t, held, "hi says which limit the quota held it to")
		assert.LessOrEqual(t, len(held), 1+len(rec.matching("no longer holds it below 600 RPM")),
			"said again only after the quota held it no more: %q", rec.matching("the shared quota"))
	})
}

// SetRPM on one limiter of a shared quota lowers the quota for all of
// them from its next sync: the store holds the key to the least caps of
// the live limiters.
func TestSetRPMOnOneLimiterOfASharedQuotaHoldsThemAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		newLimiter := quotaSharer(t, NewMemoryStore())
		ls := []*BucketRateLimiter{newLimiter("a", 600), newLimiter("b", 600)}
		require.NoError(t, ls[0].SetRPM(300))
		time.Sleep(time.Second) // a's next sync tells the store
		start := time.Now()
		var log issueLog
		var wg sync.WaitGroup
		log.run(&wg, ls[0], 100)
		log.run(&wg, ls[1], 100)
		wg.Wait()
		counts := log.perSecond(start)
		for s := 2; s < 30; s++ {
			assert.Equal(t, 5, counts[s], "tickets in second %d, over both limiters", s)
		}
		_, perMin := log.most()
		assert.LessOrEqual(t, perMin, 300)
	})
}
