package ratellmiter

import (
	"sync"
	"testing"
)

// A limiter that shares a quota is complete when it joins its Monitor:
// from then on the Monitor hands it out (Limiters, which a metrics scrape
// reads, and Stop), so a scrape running while such limiters are created
// reads their shared state after it was set, never as it is being set.
// Under the race detector this reads every limiter the Monitor has, from
// two goroutines, while four others create and close 2,000 limiters each.
func TestALimiterSharingAQuotaIsCompleteWhenItJoinsItsMonitor(t *testing.T) {
	m := NewMonitor(WithoutLogs())
	t.Cleanup(func() { m.Stop() })
	store := NewMemoryStore()
	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for _, l := range m.Limiters() {
					_ = l.Stats()
				}
			}
		})
	}
	var makers sync.WaitGroup
	for range 4 {
		makers.Go(func() {
			for range 2000 {
				l, err := NewBucketRateLimiter(60, WithMonitor(m), WithStore(store, "quota"))
				if err != nil {
					t.Error(err)
					return
				}
				l.Close()
			}
		})
	}
	makers.Wait()
	close(done)
	readers.Wait()
}
