package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
	"github.com/ratellmiter/ratellmiter/redisstore"
	"github.com/redis/go-redis/v9"
)

// A client made as the package's example makes it, with go-redis's
// defaults: its own read timeout is 3 s, and it does not bound reads by
// the context unless told to.
func TestSyncEndsWithItsContextWhenRedisHangs(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	store := redisstore.New(rdb)
	req := ratellmiter.SyncRequest{ID: "x", Now: storetest.Base, Sec: storetest.Base / 1e9}
	if _, err := store.Sync(context.Background(), "q", req); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	ctx, cancel := context.WithTimeout(context.Background(), ratellmiter.DefaultSyncTimeout)
	defer cancel()
	start := time.Now()
	_, err := store.Sync(ctx, "q", req)
	took := time.Since(start)
	if err == nil {
		t.Fatal("Sync succeeded with redis hanging")
	}
	if took > ratellmiter.DefaultSyncTimeout+250*time.Millisecond {
		t.Errorf("Sync took %v to fail, past its context's %v deadline", took, ratellmiter.DefaultSyncTimeout)
	}
	srv.Resume()
	if _, err := store.Sync(context.Background(), "q", req); err != nil {
		t.Errorf("Sync once redis answers again: %v", err)
	}
}
