package redisstore_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/redisstore"
)

// The benchmarks measure what sharing a quota costs per ticket: the same
// Acquire and Done as the root package's benchmarks, on a limiter with no
// store, with a MemoryStore and with a Redis store on a local
// redis-server, at a rate the loop cannot reach. syncs/op is the number of
// round trips to the store per ticket; BenchmarkRedisOverhead reports the
// ratio to local memory, measured in one run.

const benchRPM = 60_000_000_000 // a billion a second

// countingStore counts the syncs of the store it wraps.
type countingStore struct {
	ratellmiter.Store
	n atomic.Int64
}

func (c *countingStore) Sync(ctx context.Context, key string, req ratellmiter.SyncRequest) (ratellmiter.SyncReply, error) {
	c.n.Add(1)
	return c.Store.Sync(ctx, key, req)
}

// benchLimiter returns a limiter on store, or on none when store is nil.
func benchLimiter(b *testing.B, store ratellmiter.Store) *ratellmiter.BucketRateLimiter {
	mon := ratellmiter.NewMonitor()
	b.Cleanup(func() { mon.Stop() })
	opts := []ratellmiter.Option{ratellmiter.WithMonitor(mon), ratellmiter.WithRampUp(1, 1)}
	if store != nil {
		opts = append(opts, ratellmiter.WithStore(store, "bench-"+b.Name(), ratellmiter.WithSyncTimeout(time.Second)))
	}
	l, err := ratellmiter.NewBucketRateLimiter(benchRPM, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// benchStores starts one redis-server for a benchmark and returns how to
// make each store its sub-benchmarks compare: none ("local"), a
// MemoryStore, and Redis.
func benchStores(b *testing.B) map[string]func() ratellmiter.Store {
	srv := redistest.Start(b)
	return map[string]func() ratellmiter.Store{
		"local":  func() ratellmiter.Store { return nil },
		"memory": func() ratellmiter.Store { return ratellmiter.NewMemoryStore() },
		"redis":  func() ratellmiter.Store { return redisstore.New(newClient(b, srv)) },
	}
}

// limiterOn returns a limiter on the store newStore makes and that store,
// counting its syncs; the store is nil for a limiter without one.
func limiterOn(b *testing.B, newStore func() ratellmiter.Store) (*ratellmiter.BucketRateLimiter, *countingStore) {
	s := newStore()
	if s == nil {
		return benchLimiter(b, nil), nil
	}
	cs := &countingStore{Store: s}
	return benchLimiter(b, cs), cs
}

// takeN takes and finishes n tickets from l on one goroutine.
func takeN(b *testing.B, l *ratellmiter.BucketRateLimiter, n int) {
	ctx := context.Background()
	for range n {
		t, err := l.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t.Done()
	}
}

func BenchmarkAcquireDone(b *testing.B) {
	stores := benchStores(b)
	for _, name := range []string{"local", "memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			l, cs := limiterOn(b, stores[name])
			b.ReportAllocs()
			b.ResetTimer()
			takeN(b, l, b.N)
			b.StopTimer()
			if cs != nil {
				b.ReportMetric(float64(cs.n.Load())/float64(b.N), "syncs/op")
			}
		})
	}
}

func BenchmarkAcquireDone1000Goroutines(b *testing.B) {
	stores := benchStores(b)
	for _, name := range []string{"local", "redis"} {
		b.Run(name, func(b *testing.B) {
			l, cs := limiterOn(b, stores[name])
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(max(1, 1000/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t, err := l.Acquire(ctx)
					if err != nil {
						b.Error(err)
						return
					}
					t.Done()
				}
			})
			b.StopTimer()
			if cs != nil {
				b.ReportMetric(float64(cs.n.Load())/float64(b.N), "syncs/op")
			}
		})
	}
}

// BenchmarkRedisOverhead takes b.N tickets from a limiter with no store
// and b.N from one with a Redis store, one after the other, and reports
// the ratio of their times per ticket.
func BenchmarkRedisOverhead(b *testing.B) {
	srv := redistest.Start(b)
	local := benchLimiter(b, nil)
	shared := benchLimiter(b, redisstore.New(newClient(b, srv)))
	takeN(b, shared, 1000) // the first lease and the script's loading
	b.ResetTimer()
	start := time.Now()
	takeN(b, local, b.N)
	localNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	start = time.Now()
	takeN(b, shared, b.N)
	redisNs := float64(time.Since(start).Nanoseconds()) / float64(b.N)
	b.ReportMetric(localNs, "local-ns/op")
	b.ReportMetric(redisNs, "redis-ns/op")
	b.ReportMetric(redisNs/localNs, "redis/local")
}

// BenchmarkSyncRoundTrip is one Sync to a local redis-server: the cost of
// one lease.
func BenchmarkSyncRoundTrip(b *testing.B) {
	srv := redistest.Start(b)
	store := redisstore.New(newClient(b, srv))
	ctx := context.Background()
	req := ratellmiter.SyncRequest{ID: "bench", Want: 1, LiveTTL: 3 * time.Second,
		Limit: ratellmiter.QuotaLimit{PerSecond: 1e9, PerMinute: 6e10, RampStart: 1e9, RampStep: 1e9}}
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now().UnixNano()
		req.Now, req.Sec = now, now/1e9
		if _, err := store.Sync(ctx, "roundtrip", req); err != nil {
			b.Fatal(err)
		}
	}
}
