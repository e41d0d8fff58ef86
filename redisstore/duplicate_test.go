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

// busyScript keeps Redis busy for ARGV[1] microseconds: every command of
// every other client waits until it ends.
const busyScript = `local s = redis.call('TIME')
repeat local n = redis.call('TIME') until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) >= tonumber(ARGV[1])
return 1`

// dupRequest is request seq of limiter x, for 4 tickets.
func dupRequest(seq uint64) ratellmiter.SyncRequest {
	return ratellmiter.SyncRequest{ID: "x", Now: storetest.Base + int64(seq)*int64(time.Millisecond),
		Sec: storetest.Base / 1e9, Want: 4, Seq: seq, LiveTTL: time.Second,
		Limit: ratellmiter.QuotaLimit{PerSecond: 40, PerMinute: 600, RampStart: 40, RampStep: 40}}
}

// A client whose read timeout is shorter than the sync timeout sends a
// sync again when Redis is slow to answer it: the first copy is applied,
// its reply lost, and the second brings back the tickets the first
// granted, else they would be counted and never issued.
func TestASyncSentTwiceByTheClientKeepsItsGrant(t *testing.T) {
	srv := redistest.Start(t)
	const backoff = 300 * time.Millisecond
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 50 * time.Millisecond,
		MaxRetries: 1, MinRetryBackoff: backoff, MaxRetryBackoff: backoff})
	t.Cleanup(func() { rdb.Close() })
	busy := newClient(t, srv)
	store := redisstore.New(rdb)
	ctx := context.Background()
	if _, err := store.Sync(ctx, "q", dupRequest(1)); err != nil { // loads the script
		t.Fatal(err)
	}
	// The busy script must hold the sync's first copy; under a heavy load
	// it may start too late, and the scenario is tried again.
	for seq := uint64(2); seq < 7; seq++ {
		done := make(chan error, 1)
		go func() { done <- busy.Eval(ctx, busyScript, nil, 150000).Err() }()
		time.Sleep(30 * time.Millisecond) // the busy script runs
		start := time.Now()
		rep, err := store.Sync(ctx, "q", dupRequest(seq))
		took := time.Since(start)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if took < backoff {
			continue // answered at once: the client did not send it twice
		}
		if want := 4 * int(seq); rep.Granted != 4 || rep.Window != want {
			t.Errorf("granted %d, window %d; want 4 and %d: the first copy's grant is counted, so the reply must carry it",
				rep.Granted, rep.Window, want)
		}
		return
	}
	t.Fatal("the client never sent a sync twice")
}
