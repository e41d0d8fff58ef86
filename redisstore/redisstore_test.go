package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
	"github.com/ratellmiter/ratellmiter/redisstore"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
)

// newClient returns a client of srv, closed when the test ends.
func newClient(t testing.TB, srv *redistest.Server) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// The Lua script has the semantics of the memory store: the same suite.
func TestStoreSemantics(t *testing.T) {
	srv := redistest.Start(t)
	store := redisstore.New(newClient(t, srv))
	storetest.Run(t, func(*testing.T) ratellmiter.Store { return store })
}

func TestPrefixKeepsQuotasApart(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	a, b := redisstore.New(rdb), redisstore.New(rdb, redisstore.WithPrefix("other:"))
	req := ratellmiter.SyncRequest{ID: "x", Now: storetest.Base, Sec: storetest.Base / 1e9, Want: 10, Seq: 1,
		Limit: ratellmiter.QuotaLimit{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3}, LiveTTL: time.Second}
	ctx := context.Background()
	for _, s := range []*redisstore.Store{a, b} {
		rep, err := s.Sync(ctx, "q", req)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Granted != 10 {
			t.Errorf("granted %d, want 10 under each prefix", rep.Granted)
		}
	}
	if got := a.Keys("q")[0]; got != "ratellmiter:{q}:counts" {
		t.Errorf("counts key %q", got)
	}
	n, err := rdb.Exists(ctx, append(a.Keys("q"), b.Keys("q")...)...).Result()
	if err != nil || n != 10 {
		t.Errorf("keys written: %d (%v), want 10", n, err)
	}
	ttl, err := rdb.PTTL(ctx, a.Keys("q")[1]).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("state key expires in %v (%v), want within the hour", ttl, err)
	}
}

func TestSyncFailsWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	store := redisstore.New(newClient(t, srv))
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := store.Sync(ctx, "q", ratellmiter.SyncRequest{ID: "x", Now: storetest.Base, Sec: storetest.Base / 1e9})
	if err == nil {
		t.Fatal("Sync succeeded with redis down")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Sync took %v to fail", d)
	}
	srv.Start()
	if _, err := store.Sync(ctx, "q", ratellmiter.SyncRequest{ID: "x", Now: storetest.Base, Sec: storetest.Base / 1e9}); err != nil {
		t.Errorf("Sync after redis restarted: %v", err)
	}
}

func TestBadReplyIsAnError(t *testing.T) {
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	// A script of the same SHA cannot be faked, but a client whose
	// scripts all answer otherwise can.
	store := redisstore.New(fakeScripter{rdb})
	_, err := store.Sync(context.Background(), "q", ratellmiter.SyncRequest{ID: "x"})
	if !errors.Is(err, redisstore.ErrBadReply) {
		t.Errorf("got %v, want ErrBadReply", err)
	}
}

// fakeScripter answers every script with a string.
type fakeScripter struct{ *redis.Client }

func (f fakeScripter) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return f.Client.Eval(ctx, "return 'not an array'", nil)
}

func TestNewRefusesANilClient(t *testing.T) {
	var rdb *redis.Client // never set
	assert.PanicsWithValue(t, "redisstore: New: nil redis client (*redis.Client)", func() { redisstore.New(rdb) })
	assert.PanicsWithValue(t, "redisstore: New: nil redis client (<nil>)", func() { redisstore.New(nil) })
}
