package ratellmiter_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
)

// runContention runs c with n limiters on one quota of store, in this
// process, and checks it.
func runContention(t *testing.T, store ratellmiter.Store, n int, c storetest.Contention) storetest.Result {
	t.Helper()
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	c.Dir = t.TempDir()
	start := time.Now().Truncate(time.Second).Add(2 * time.Second)
	if err := storetest.FillWindow(context.Background(), store, "quota", c, start); err != nil {
		t.Fatal(err)
	}
	ls := sharedLimiters(t, m, store, n, c.RPM, ratellmiter.WithLearning(false))
	return storetest.Check(t, c, start, hammerAll(ls, c, start), 1, time.Second)
}

// sharedLimiters returns n limiters of m at rpm, processes p0 to p(n-1)
// of the quota "quota" of store.
func sharedLimiters(t *testing.T, m *ratellmiter.Monitor, store ratellmiter.Store, n, rpm int, opts ...ratellmiter.Option) []*ratellmiter.BucketRateLimiter {
	t.Helper()
	var ls []*ratellmiter.BucketRateLimiter
	for i := range n {
		l, err := ratellmiter.NewBucketRateLimiter(rpm, append([]ratellmiter.Option{ratellmiter.WithMonitor(m),
			ratellmiter.WithStore(store, "quota", ratellmiter.WithProcessID(fmt.Sprint("p", i)))}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

// hammerAll runs storetest.Hammer on every limiter at once and returns
// their records.
func hammerAll(ls []*ratellmiter.BucketRateLimiter, c storetest.Contention, start time.Time) []storetest.Record {
	recs := make([]storetest.Record, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { recs[i] = storetest.Hammer(l, c, start) })
	}
	wg.Wait()
	return recs
}

// Limiters that share a quota of a MemoryStore, each wanting more than
// the quota, keep to its caps together, take even shares of it, pause and
// resume together, and issue what the caps allow.
func TestSharedQuotaUnderContention(t *testing.T) {
	for n, c := range storetest.Contentions() {
		t.Run(fmt.Sprint(n, " limiters"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res := runContention(t, ratellmiter.NewMemoryStore(), n, c)
				t.Log(res)
				if res.Ratio < 0.9 {
					t.Errorf("issued %.3f of what the caps allow", res.Ratio)
				}
			})
		})
	}
}

// Over many seconds each of twenty limiters sharing a quota gets about an
// even share, though each second only four of them get tickets. Which
// four is a draw, so a limiter's share varies like a binomial count: over
// 10 minutes, 120 of 600 seconds on average, give or take 10, and one of
// twenty limiters fell below 0.75 of an even share in about one run of
// fifty. Over 30 minutes the same bound lies more than five standard
// deviations below the mean.
func TestManySharedLimitersGetEvenSharesOverTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := storetest.Contention{RPM: 1200, Goroutines: 8, Duration: 30 * time.Minute, MinShare: 0.75}
		res := runContention(t, ratellmiter.NewMemoryStore(), 20, c)
		t.Logf("%d tickets of %d allowed (%.3f); shares %v", res.Total, res.Ideal, res.Ratio, res.Shares)
		if res.Ratio < 0.99 {
			t.Errorf("issued %.3f of what the caps allow", res.Ratio)
		}
	})
}

// The server refuses a call of every limiter at once: each reports it,
// the quota pauses once, one limiter probes, and all resume together.
func TestSharedQuotaUnderContentionAllRateLimited(t *testing.T) {
	for n, c := range storetest.Contentions() {
		c.Each = true
		t.Run(fmt.Sprint(n, " limiters"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				res := runContention(t, ratellmiter.NewMemoryStore(), n, c)
				t.Log(res)
				// Each refusal after the first pushes the probe later: up
				// to a second of the pause and its ramp.
				if res.Ratio < 0.85 {
					t.Errorf("issued %.3f of what the caps allow", res.Ratio)
				}
			})
		})
	}
}
