package ratellmiter

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// A program that shares a quota per tenant, or per API key, creates
// limiters on ever new keys. As the Redis store's keys expire once no
// process has synced them for an hour, the memory store forgets such a
// quota, so that it holds the quotas in use and not every key it was
// ever given.
func TestMemoryStoreForgetsAQuotaNobodySyncsForAnHour(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor(WithoutLogs())
		defer m.Stop()
		st := NewMemoryStore()
		const tenants = 500
		for i := range tenants {
			l, err := NewBucketRateLimiter(600, WithMonitor(m), WithStore(st, fmt.Sprint("tenant-", i)))
			if err != nil {
				t.Fatal(err)
			}
			tk, err := l.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			tk.Done()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		// One tenant comes back within the hour, and another one stays.
		back, err := NewBucketRateLimiter(600, WithMonitor(m), WithStore(st, "tenant-0"))
		if err != nil {
			t.Fatal(err)
		}
		defer back.Close()
		time.Sleep(time.Hour + 2*time.Minute)
		if got := quotasHeld(st); got != 1 {
			t.Fatalf("the store holds %d quotas two minutes after the last sync of all but one was an hour old, want 1", got)
		}

		// A quota synced 59 minutes ago is kept, with its state; one
		// synced more than an hour ago starts anew, as a Redis key that
		// expired.
		now := time.Now().UnixNano()
		ctx := context.Background()
		lim := QuotaLimit{PerSecond: 10, PerMinute: 600}
		first, err := st.Sync(ctx, "kept", SyncRequest{ID: "a", Now: now, Sec: now / 1e9, Limit: lim})
		if err != nil {
			t.Fatal(err)
		}
		later := now + int64(59*time.Minute)
		kept, err := st.Sync(ctx, "kept", SyncRequest{ID: "a", Now: later, Sec: later / 1e9, Limit: lim})
		if err != nil {
			t.Fatal(err)
		}
		if kept.Incarnation != first.Incarnation {
			t.Errorf("a quota synced 59 minutes before was forgotten")
		}
		gone := later + int64(time.Hour) + 1
		anew, err := st.Sync(ctx, "kept", SyncRequest{ID: "a", Now: gone, Sec: gone / 1e9, Limit: lim})
		if err != nil {
			t.Fatal(err)
		}
		if anew.Incarnation == first.Incarnation {
			t.Errorf("a quota nobody synced for over an hour kept its state")
		}
	})
}

// quotasHeld returns the number of quotas st holds.
func quotasHeld(st *MemoryStore) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.quotas)
}
