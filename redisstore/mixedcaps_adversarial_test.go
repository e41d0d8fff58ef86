package redisstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
	"github.com/ratellmiter/ratellmiter/redisstore"
	"github.com/redis/go-redis/v9"
)

const ms = int64(time.Millisecond)

// capsLimiter is one limiter of TestStoreAgreesOnMixedCapsAcrossClocks:
// the process it runs in (whose clock is off by skew), its numbering, and
// its last request, to send again.
type capsLimiter struct {
	id      string
	skew    int64
	ttl     time.Duration
	seq     uint64
	lim     ratellmiter.QuotaLimit
	quiet   int64
	lastNow int64
	last    ratellmiter.SyncRequest
	epoch   [2]uint64
	inc     [2]uint64
}

// The Redis store keeps the least caps between syncs; it must still
// answer as the memory store does when the processes' clocks differ by a
// second, limiters restart under their id in another process (whose clock
// may be behind the one before, so that the id's heartbeat goes back),
// lower their caps and raise them again, have another LiveTTL, send
// requests late, twice, or again after a lost reply (Retry), leave, and
// when the store loses its state.
func TestStoreAgreesOnMixedCapsAcrossClocks(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	limits := []ratellmiter.QuotaLimit{
		{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3},
		{PerSecond: 5, PerMinute: 300, RampStart: 2, RampStep: 1},
		{PerSecond: 20, PerMinute: 1200, RampStart: 1, RampStep: 10},
		{PerSecond: 3, PerMinute: 2000, RampStart: 3, RampStep: 2},
		{PerSecond: 8, PerMinute: 100, RampStart: 0, RampStep: 0},
		{},
	}
	skews := []int64{-int64(time.Second), 0, int64(time.Second), 300 * ms}
	for seed := range uint64(12) {
		key := fmt.Sprint("clocks-", seed)
		rng := rand.New(rand.NewPCG(seed, 11))
		stores := [2]ratellmiter.Store{ratellmiter.NewMemoryStore(), redisstore.New(rdb)}
		var ls []*capsLimiter
		for i := range 10 {
			ls = append(ls, &capsLimiter{id: fmt.Sprint("p", i), skew: skews[rng.IntN(len(skews))],
				ttl: 3 * time.Second, lim: limits[rng.IntN(len(limits)-1)]})
		}
		real := storetest.Base
		for _, l := range ls {
			l.seq = uint64((real + l.skew) / 1000)
		}
		for step := range 4000 {
			real += rng.Int64N(50) * ms
			l := ls[rng.IntN(len(ls))]
			if real < l.quiet {
				continue
			}
			switch r := rng.IntN(200); {
			case r < 3:
				// Restarts under its id, in a process whose clock may
				// differ: numbered from its creation time there.
				l.skew = skews[rng.IntN(len(skews))]
				l.seq = max(l.seq, uint64((real+l.skew)/1000))
				l.lastNow, l.last = 0, ratellmiter.SyncRequest{}
				l.lim = limits[rng.IntN(len(limits))]
			case r < 5:
				l.quiet = real + rng.Int64N(5000)*ms
			case r < 15:
				l.lim = limits[rng.IntN(len(limits))]
			case r < 16:
				l.ttl = time.Duration(2+rng.IntN(2)) * time.Second
			case r < 17:
				// The store loses its state.
				stores[0] = ratellmiter.NewMemoryStore()
				if err := rdb.FlushDB(ctx).Err(); err != nil {
					t.Fatal(err)
				}
			}
			at := max(l.lastNow, real+l.skew-rng.Int64N(200)*ms)
			at -= at % ms
			l.lastNow = at
			var req ratellmiter.SyncRequest
			switch r := rng.IntN(100); {
			case r < 3 && l.last.ID != "":
				req = l.last // sent twice, or late
			case r < 6 && l.last.ID != "":
				l.seq++
				req = l.last
				req.Retry, req.Seq, req.Now, req.Sec, req.Limit = l.last.Seq, l.seq, at, at/int64(time.Second), l.lim
			default:
				l.seq++
				req = ratellmiter.SyncRequest{ID: l.id, Now: at, Sec: at / int64(time.Second), Want: rng.IntN(6),
					Limit: l.lim, Seq: l.seq, ProbeTTL: time.Second, LiveTTL: l.ttl}
				if rng.IntN(60) == 0 {
					req.Events = []ratellmiter.QuotaEvent{{Kind: ratellmiter.QuotaRefused, ProbeAt: at}, {Kind: ratellmiter.QuotaResumed}}
				}
				if rng.IntN(40) == 0 {
					req.Leaving = true // it ends, and may be created again later
					l.quiet = real + rng.Int64N(4000)*ms
				}
			}
			syncBoth(t, stores, key, req, &l.epoch, &l.inc, seed, step)
			if req.Seq == l.seq {
				l.last = req
			}
		}
	}
}

// With thousands of live limiters the Redis store reads their caps a
// thousand at a time: the lowest caps hold wherever their limiter comes,
// and stop holding once it is no longer live, as in the memory store.
func TestStoreAgreesOnMixedCapsOfThousandsOfLimiters(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	stores := [2]ratellmiter.Store{ratellmiter.NewMemoryStore(), redisstore.New(rdb)}
	high := ratellmiter.QuotaLimit{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3}
	low := ratellmiter.QuotaLimit{PerSecond: 4, PerMinute: 200, RampStart: 2, RampStep: 1}
	const n = 2500
	sync := func(id string, now int64, lim ratellmiter.QuotaLimit) ratellmiter.SyncReply {
		t.Helper()
		var reps [2]ratellmiter.SyncReply
		for i, s := range stores {
			rep, err := s.Sync(ctx, "thousands", ratellmiter.SyncRequest{ID: id, Now: now, Sec: now / 1e9, Want: 1,
				Limit: lim, LiveTTL: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			rep.Incarnation = 0
			reps[i] = rep
		}
		if reps[0] != reps[1] {
			t.Fatalf("%s at %d ms:\n memory: %+v\n redis:  %+v", id, (now-storetest.Base)/ms, reps[0], reps[1])
		}
		return reps[0]
	}
	for i := range n {
		lim := high
		if i == 2345 {
			lim = low
		}
		sync(fmt.Sprint("p", i), storetest.Base+int64(i/1000)*ms, lim)
	}
	// Every limiter but the low one keeps its heartbeat.
	for i := range n {
		if i != 2345 {
			sync(fmt.Sprint("p", i), storetest.Base+2*int64(time.Second)+int64(i/1000)*ms, high)
		}
	}
	if rep := sync("p0", storetest.Base+2500*ms, high); rep.Limit != low || rep.Live != n {
		t.Errorf("at 2.5 s: caps %+v, live %d; want %+v and %d", rep.Limit, rep.Live, low, n)
	}
	if rep := sync("p1", storetest.Base+3003*ms, high); rep.Limit != high || rep.Live != n-1 {
		t.Errorf("at 3.003 s: caps %+v, live %d; want %+v and %d", rep.Limit, rep.Live, high, n-1)
	}
}
