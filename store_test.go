package ratellmiter_test

import (
	"context"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) ratellmiter.Store { return ratellmiter.NewMemoryStore() })
}

// A request sent twice gets the grant of its first copy in both replies,
// counted once; a copy of a request before the last gets nothing.
func TestMemoryStoreTellsTheGrantOfARequestSentTwice(t *testing.T) {
	s := ratellmiter.NewMemoryStore()
	ctx := context.Background()
	req := func(seq uint64) ratellmiter.SyncRequest {
		return ratellmiter.SyncRequest{ID: "x", Now: storetest.Base + int64(seq)*int64(time.Millisecond),
			Sec: storetest.Base / 1e9, Want: 4, Seq: seq, LiveTTL: time.Second,
			Limit: ratellmiter.QuotaLimit{PerSecond: 40, PerMinute: 600, RampStart: 40, RampStep: 40}}
	}
	first, _ := s.Sync(ctx, "q", req(1))
	again, _ := s.Sync(ctx, "q", req(1))
	if again.Granted != 4 || again.NotBefore != first.NotBefore || again.Spacing != first.Spacing || again.Window != 4 {
		t.Errorf("sent again: %+v; first: %+v", again, first)
	}
	_, _ = s.Sync(ctx, "q", req(2))
	if late, _ := s.Sync(ctx, "q", req(1)); late.Granted != 0 || late.Window != 8 {
		t.Errorf("a copy of a request before the last: granted %d, window %d; want 0 and 8", late.Granted, late.Window)
	}
}
