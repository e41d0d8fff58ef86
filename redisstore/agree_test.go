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

// agreeClient is one limiter of the differential test: what it last heard
// from each store, and the request it sent last.
type agreeClient struct {
	id       string
	seq      uint64
	epoch    [2]uint64
	inc      [2]uint64
	last     ratellmiter.SyncRequest
	lastSent bool
	lastNow  int64
	granted  []ratellmiter.SecondCount
}

// The Redis store and the memory store answer alike a long run of
// interleaved requests from many limiters that contend for one quota:
// grants and their slots at the caps, tickets handed back and used,
// pauses (of overloads alone or not), resumes and probe leases, requests
// sent again, twice or late, and requests numbered below the last one
// applied, told that one.
func TestStoreAgreesWithMemoryStoreUnderContention(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	stores := [2]ratellmiter.Store{ratellmiter.NewMemoryStore(), redisstore.New(rdb)}
	jumps := 0 // replies that told a LastSeq above the request's
	for seed := range uint64(6) {
		key := fmt.Sprint("agree-", seed)
		rng := rand.New(rand.NewPCG(seed, 42))
		limits := []ratellmiter.QuotaLimit{
			{PerSecond: 10, PerMinute: 600, RampStart: 5, RampStep: 3},
			{PerSecond: 11, PerMinute: 650, RampStart: 5, RampStep: 3},
			{PerSecond: 2, PerMinute: 100, RampStart: 1, RampStep: 1},
		}
		limit := limits[seed%uint64(len(limits))]
		var cs []*agreeClient
		for i := range 20 {
			cs = append(cs, &agreeClient{id: fmt.Sprint("p", i), seq: uint64(i) * 1000})
		}
		now := storetest.Base
		for step := range 4000 {
			now += rng.Int64N(40) * int64(time.Millisecond) // whole ms: the Lua script counts in ms
			c := cs[rng.IntN(len(cs))]
			// Requests come a little out of the order of their times,
			// though each limiter's own are in order.
			at := max(c.lastNow, now-rng.Int64N(30)*int64(time.Millisecond))
			c.lastNow = at
			sec := at / int64(time.Second)
			var req ratellmiter.SyncRequest
			switch r := rng.IntN(100); {
			case r < 3 && c.lastSent:
				req = c.last // sent twice
			case r < 6 && c.lastSent:
				// Its reply was lost: sent again, numbered anew.
				c.seq++
				req = c.last
				req.Retry, req.Seq, req.Now, req.Sec = c.last.Seq, c.seq, at, sec
			case r < 7 && c.seq > 100:
				// Restarted on a host whose clock is behind: numbered
				// below its last request, until told (LastSeq).
				c.seq -= uint64(1 + rng.IntN(100))
				req = ratellmiter.SyncRequest{ID: c.id, Now: at, Sec: sec, Want: rng.IntN(6), Limit: limit,
					Seq: c.seq, ProbeTTL: time.Second, LiveTTL: 3 * time.Second}
				if rng.IntN(2) == 0 {
					req.Used = []ratellmiter.SecondCount{{Sec: sec, N: 1}}
				}
			default:
				c.seq++
				req = ratellmiter.SyncRequest{ID: c.id, Now: at, Sec: sec, Want: rng.IntN(6), Limit: limit,
					Seq: c.seq, ProbeTTL: time.Duration(1+rng.IntN(3)) * time.Second, LiveTTL: 3 * time.Second}
				if rng.IntN(10) == 0 && len(c.granted) > 0 {
					g := c.granted[rng.IntN(len(c.granted))]
					req.Returned = []ratellmiter.SecondCount{{Sec: g.Sec, N: 1 + rng.IntN(g.N)}}
				}
				if rng.IntN(20) == 0 {
					req.Used = []ratellmiter.SecondCount{{Sec: sec - int64(rng.IntN(3)), N: 1 + rng.IntN(2)}}
				}
				switch rng.IntN(60) {
				case 0:
					req.Events = []ratellmiter.QuotaEvent{{Kind: ratellmiter.QuotaRefused, ProbeAt: at + rng.Int64N(3000)*int64(time.Millisecond),
						Overload: rng.IntN(2) == 0}}
				case 1, 2, 3:
					req.Events = []ratellmiter.QuotaEvent{{Kind: ratellmiter.QuotaResumed}}
				}
				req.WantProbe = rng.IntN(4) == 0
				if rng.IntN(50) == 0 {
					req.SetLearned, req.Learned = true, rng.IntN(700)
				}
			}
			rep := syncBoth(t, stores, key, req, &c.epoch, &c.inc, seed, step)
			c.last, c.lastSent = req, true
			if rep.LastSeq > req.Seq {
				c.seq = rep.LastSeq // numbered on above the store's last
				jumps++
			}
			if rep.Granted > 0 {
				c.granted = append(c.granted, ratellmiter.SecondCount{Sec: req.Sec, N: rep.Granted})
			}
		}
	}
	if jumps == 0 {
		t.Error("no reply told a LastSeq above its request's")
	}
	t.Logf("%d replies told a LastSeq above the request's", jumps)
}

// syncBoth sends req to both stores, each with its own epoch and
// incarnation (epoch and inc, updated from the replies), and fails the
// test unless they reply the same; it returns that reply, without the
// incarnation. seed and step name the request in a failure.
func syncBoth(t *testing.T, stores [2]ratellmiter.Store, key string, req ratellmiter.SyncRequest, epoch, inc *[2]uint64, seed uint64, step int) ratellmiter.SyncReply {
	t.Helper()
	var reps [2]ratellmiter.SyncReply
	for i, s := range stores {
		r := req
		r.Epoch, r.Incarnation = epoch[i], inc[i]
		rep, err := s.Sync(context.Background(), key, r)
		if err != nil {
			t.Fatalf("seed %d step %d: store %d: %v", seed, step, i, err)
		}
		epoch[i], inc[i] = rep.Epoch, rep.Incarnation
		rep.Incarnation = 0
		reps[i] = rep
	}
	if reps[0] != reps[1] {
		t.Fatalf("seed %d step %d: %+v\n memory: %+v\n redis:  %+v", seed, step, req, reps[0], reps[1])
	}
	return reps[0]
}
