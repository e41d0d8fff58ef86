package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
	"github.com/ratellmiter/ratellmiter/redisstore"
	"github.com/redis/go-redis/v9"
)

// A quota that many short-lived limiters synced, each under an id of its
// own, forgets them all at once an hour later, and still syncs.
func TestManyLimitersGoneAtOnceAreForgotten(t *testing.T) {
	const n = 9500
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 16, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	store := redisstore.New(rdb)
	ctx := context.Background()
	req := func(id string, now int64) ratellmiter.SyncRequest {
		return ratellmiter.SyncRequest{ID: id, Now: now, Sec: now / 1e9, Want: 1, Seq: 1,
			Limit: ratellmiter.QuotaLimit{PerSecond: 10, PerMinute: 600, RampStart: 10, RampStep: 10}, LiveTTL: 3 * time.Second}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if _, err := store.Sync(ctx, "q", req(fmt.Sprint("job-", i), storetest.Base)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	later := storetest.Base + int64(time.Hour) + int64(time.Second)
	rep, err := store.Sync(ctx, "q", req("next", later))
	if err != nil {
		t.Fatalf("sync an hour later: %v", err)
	}
	if rep.Granted != 1 || rep.Live != 1 {
		t.Errorf("an hour later: granted %d, live %d; want 1 and 1", rep.Granted, rep.Live)
	}
	keys := store.Keys("q")
	for _, k := range keys[2:] {
		var size int64
		if k == keys[2] {
			size, err = rdb.ZCard(ctx, k).Result()
		} else {
			size, err = rdb.HLen(ctx, k).Result()
		}
		if err != nil || size != 1 {
			t.Errorf("%s holds %d limiters (%v), want 1", k, size, err)
		}
	}
}
