package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/redisstore"
)

// A limiter restarted with the process id of one whose clock was a
// minute ahead (its last request, sent here as it was, numbered from that
// clock) issues tickets at once, instead of none for the hour Redis
// remembers that number.
func TestRestartedLimiterNumberedBelowItsPredecessorIssues(t *testing.T) {
	srv := redistest.Start(t)
	store := redisstore.New(newClient(t, srv))
	ctx := context.Background()
	ahead := time.Now().Add(time.Minute)
	_, err := store.Sync(ctx, "fault", ratellmiter.SyncRequest{ID: "pod-0", Now: time.Now().UnixNano(),
		Sec: time.Now().Unix(), Seq: uint64(ahead.UnixMicro()), LiveTTL: time.Second, Leaving: true})
	if err != nil {
		t.Fatal(err)
	}
	l := newSharedLimiter(t, srv, "pod-0", ratellmiter.FailClosed)
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for range 3 {
		tk, err := l.Acquire(actx)
		if err != nil {
			t.Fatalf("the restarted limiter issues no ticket: %v", err)
		}
		tk.Done()
	}
	rep, err := store.Sync(ctx, "fault", ratellmiter.SyncRequest{ID: "watch", Now: time.Now().UnixNano(),
		Sec: time.Now().Unix(), LiveTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Window < 3 {
		t.Errorf("window %d, want the restarted limiter's 3 tickets at least", rep.Window)
	}
}
