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

// Whatever a quota's name holds, its four keys are in one slot of a Redis
// Cluster, so that the script may run on them, and no two names share a
// key.
func TestQuotaNamesWithBracesKeepTheirKeysInOneSlot(t *testing.T) {
	srv := redistest.StartCluster(t)
	rdb := newClient(t, srv)
	store := redisstore.New(rdb)
	ctx := context.Background()
	names := []string{"q", "}q", "}", "a}b", "a}b}:counts", "{q}", "}{", "%", "%7D", "%257D", "a%7Db"}
	owner := map[string]string{}
	for _, name := range names {
		keys := store.Keys(name)
		slots := map[int64]bool{}
		for _, k := range keys {
			if other, ok := owner[k]; ok {
				t.Errorf("quotas %q and %q share the key %q", other, name, k)
			}
			owner[k] = name
			slot, err := rdb.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			slots[slot] = true
		}
		if len(slots) != 1 {
			t.Errorf("quota %q: keys %q are in %d slots", name, keys, len(slots))
		}
		req := ratellmiter.SyncRequest{ID: "x", Now: storetest.Base, Sec: storetest.Base / 1e9, Want: 10, Seq: 1,
			Limit: ratellmiter.QuotaLimit{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3}, LiveTTL: time.Second}
		rep, err := store.Sync(ctx, name, req)
		if err != nil {
			t.Errorf("Sync of quota %q: %v", name, err)
			continue
		}
		if rep.Granted != 10 {
			t.Errorf("quota %q: granted %d, want 10: the quota is shared with another", name, rep.Granted)
		}
		if n, err := rdb.Exists(ctx, keys...).Result(); err != nil || n != int64(len(keys)) {
			t.Errorf("quota %q: %d of its keys written (%v), want %d", name, n, err, len(keys))
		}
	}
	if got := store.Keys("openai-org-1")[0]; got != "ratellmiter:{openai-org-1}:counts" {
		t.Errorf("counts key of a plain name: %q", got)
	}
}
