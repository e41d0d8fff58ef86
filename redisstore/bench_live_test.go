package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
	"github.com/ratellmiter/ratellmiter/redisstore"
)

// BenchmarkSyncLiveLimiters is one Sync of a quota that 1, 100 or 1,000
// live limiters share, each syncing twice a second of the store's (virtual)
// time, as idle limiters heartbeat: the cost of the least caps of the
// live limiters. "steady": every limiter keeps its caps, so the store
// keeps the least between syncs, and reads every live limiter's caps
// only once the oldest heartbeat it counted is LiveTTL old; "raising":
// every sync raises the requester's caps, so the store reads every live
// limiter's caps at each one.
func BenchmarkSyncLiveLimiters(b *testing.B) {
	srv := redistest.Start(b)
	store := redisstore.New(newClient(b, srv))
	ctx := context.Background()
	low := ratellmiter.QuotaLimit{PerSecond: 100, PerMinute: 6000, RampStart: 10, RampStep: 10}
	runs := 0
	for _, mode := range []string{"steady", "raising"} {
		for _, n := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/live=%d", mode, n), func(b *testing.B) {
				runs++
				key := fmt.Sprint(b.Name(), "-", runs)
				step := int64(500*time.Millisecond) / int64(n)
				step -= step % int64(time.Millisecond)
				now := storetest.Base
				req := func(i int) ratellmiter.SyncRequest {
					lim := low
					if mode == "raising" {
						lim.PerMinute += i // above the limiter's last caps
					}
					return ratellmiter.SyncRequest{ID: fmt.Sprint("p", i%n), Now: now, Sec: now / 1e9, Want: 1,
						Limit: lim, Seq: uint64(i + 1), LiveTTL: 3 * time.Second, ProbeTTL: time.Second}
				}
				i := 0
				for range 2 * n { // every limiter live
					if _, err := store.Sync(ctx, key, req(i)); err != nil {
						b.Fatal(err)
					}
					i++
					now += max(step, int64(time.Millisecond))
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := store.Sync(ctx, key, req(i)); err != nil {
						b.Fatal(err)
					}
					i++
					now += max(step, int64(time.Millisecond))
				}
			})
		}
	}
}
