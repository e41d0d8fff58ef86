package redisstore_test

import (
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

// The Redis store and the memory store agree on the caps in force and on
// every grant while limiters of different caps share a quota: limiters
// raise and lower their caps, state none, fall silent long enough to be
// no longer live and come back, send requests late or out of the order
// of their times, and with another LiveTTL now and then. The Redis store
// keeps the least caps between syncs instead of reading every live
// limiter's at each one; it must answer as the memory store does.
func TestStoreAgreesWithMemoryStoreOnMixedCaps(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	stores := [2]ratellmiter.Store{ratellmiter.NewMemoryStore(), redisstore.New(rdb)}
	limits := []ratellmiter.QuotaLimit{
		{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3},
		{PerSecond: 5, PerMinute: 300, RampStart: 2, RampStep: 1},
		{PerSecond: 20, PerMinute: 1200, RampStart: 1, RampStep: 10},
		{PerSecond: 8, PerMinute: 100, RampStart: 0, RampStep: 0},
		{PerSecond: 3, PerMinute: 2000, RampStart: 3, RampStep: 2},
		{}, // no caps
	}
	const ms = int64(time.Millisecond)
	for seed := range uint64(6) {
		key := fmt.Sprint("mixed-", seed)
		rng := rand.New(rand.NewPCG(seed, 7))
		type client struct {
			id      string
			seq     uint64
			lim     ratellmiter.QuotaLimit
			quiet   int64 // no sync before then
			lastNow int64
			last    ratellmiter.SyncRequest
			epoch   [2]uint64
			inc     [2]uint64
		}
		var cs []*client
		for i := range 8 {
			cs = append(cs, &client{id: fmt.Sprint("p", i), seq: uint64(i) * 1000, lim: limits[rng.IntN(len(limits)-1)]})
		}
		now := storetest.Base
		distinct := map[ratellmiter.QuotaLimit]bool{}
		for step := range 3000 {
			now += rng.Int64N(60) * ms
			c := cs[rng.IntN(len(cs))]
			if now < c.quiet {
				continue
			}
			if rng.IntN(80) == 0 {
				c.quiet = now + rng.Int64N(6000)*ms // silent, maybe past LiveTTL
			}
			if rng.IntN(25) == 0 {
				c.lim = limits[rng.IntN(len(limits))]
			}
			at := max(c.lastNow, now-rng.Int64N(400)*ms)
			c.lastNow = at
			var req ratellmiter.SyncRequest
			if r := rng.IntN(100); r < 4 && c.last.ID != "" {
				req = c.last // sent twice, or late after a later one
				if r < 2 {
					req.Limit = limits[rng.IntN(len(limits))]
				}
			} else {
				c.seq++
				req = ratellmiter.SyncRequest{ID: c.id, Now: at, Sec: at / int64(time.Second), Want: rng.IntN(8),
					Limit: c.lim, Seq: c.seq, ProbeTTL: time.Second, LiveTTL: 3 * time.Second}
				if rng.IntN(50) == 0 {
					req.LiveTTL = 2 * time.Second
				}
				if rng.IntN(40) == 0 {
					req.Seq = 0 // not numbered
				}
				switch rng.IntN(80) {
				case 0:
					req.Events = []ratellmiter.QuotaEvent{{Kind: ratellmiter.QuotaRefused, ProbeAt: at}, {Kind: ratellmiter.QuotaResumed}}
				}
			}
			rep := syncBoth(t, stores, key, req, &c.epoch, &c.inc, seed, step)
			distinct[rep.Limit] = true
			if req.Seq != 0 && req.Seq == c.seq {
				c.last = req
			}
		}
		if len(distinct) < 4 {
			t.Errorf("seed %d: %d distinct caps in force, want a run that changes them more", seed, len(distinct))
		}
	}
}
