package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
	"github.com/ratellmiter/ratellmiter/redisstore"
)

// A rate limit seen while Redis restarts without its data is shared once
// it is back: the limiters' epochs are of the state Redis lost.
func TestRateLimitDuringARedisRestartIsShared(t *testing.T) {
	srv := redistest.Start(t)
	a := newSharedLimiter(t, srv, "a", ratellmiter.FallbackLocal)
	b := newSharedLimiter(t, srv, "b", ratellmiter.FallbackLocal)
	ctx := context.Background()
	tk, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.RateLimited(ctx, 500*time.Millisecond); err != nil { // epoch 1, then 2 at the resume
		t.Fatal(err)
	}
	tk.Done()
	time.Sleep(1500 * time.Millisecond)
	if a.Stats().Paused || b.Stats().Paused {
		t.Fatal("still paused")
	}
	srv.Stop()
	time.Sleep(600 * time.Millisecond)
	tk, err = a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if tk.RateLimited(ctx, 30*time.Second) == nil { // a 429: retry in 30 s
			tk.Done()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	srv.Start() // without the data
	time.Sleep(2 * time.Second)
	if !a.Stats().Paused {
		t.Error("a resumed 2 s after a 429 that said retry in 30 s")
	}
	if !b.Stats().Paused {
		t.Error("b never paused for a's 429")
	}
	a.Close()
	b.Close()
}

// The incarnation changes when the quota's keys are lost, and only then.
func TestIncarnationChangesWhenTheKeysAreLost(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	store := redisstore.New(rdb)
	req := ratellmiter.SyncRequest{ID: "x", Now: storetest.Base, Sec: storetest.Base / 1e9, LiveTTL: time.Second}
	ctx := context.Background()
	sync := func() uint64 {
		t.Helper()
		rep, err := store.Sync(ctx, "q", req)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Incarnation
	}
	first := sync()
	if first == 0 || first >= 1<<53 {
		t.Fatalf("incarnation %d, want in [1, 2^53)", first)
	}
	if got := sync(); got != first {
		t.Errorf("incarnation %d, then %d", first, got)
	}
	if err := rdb.Del(ctx, store.Keys("q")...).Err(); err != nil {
		t.Fatal(err)
	}
	if got := sync(); got == first {
		t.Errorf("incarnation %d after the keys were deleted, as before", got)
	}
}
