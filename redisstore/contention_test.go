package redisstore_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
	"github.com/ratellmiter/ratellmiter/redisstore"
	"github.com/redis/go-redis/v9"
)

// contention turns on TestProcessesShareAQuotaUnderContention: 27
// processes pacing on the real clock for about 20 s, a measurement that a
// machine busy with other tests would disturb, so it runs on its own:
//
//	go test ./redisstore -run TestProcessesShareAQuotaUnderContention -contention -v
var contention = flag.Bool("contention", false, "run the multi-process contention test (about 20 s of real time)")

// envHammer holds, as JSON, a hammerConfig: the test binary runs as one
// limiter of a storetest.Contention.
const envHammer = "RATELLMITER_TEST_HAMMER"

type hammerConfig struct {
	Redis, Key, ID string
	Start          int64 // Unix ns
	Contention     storetest.Contention
}

// hammerMain runs one limiter of a Contention and prints its record.
func hammerMain(cfg string) int {
	var c hammerConfig
	var rec storetest.Record
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rec) }()
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		rec.Err = err.Error()
		return 1
	}
	rdb := redis.NewClient(&redis.Options{Addr: c.Redis})
	defer rdb.Close()
	mon := ratellmiter.NewMonitor()
	defer mon.Stop()
	l, err := ratellmiter.NewBucketRateLimiter(c.Contention.RPM, ratellmiter.WithMonitor(mon), ratellmiter.WithLearning(false),
		ratellmiter.WithStore(redisstore.New(rdb), c.Key, ratellmiter.WithProcessID(c.ID)))
	if err != nil {
		rec.Err = err.Error()
		return 1
	}
	rec = storetest.Hammer(l, c.Contention, time.Unix(0, c.Start))
	return 0
}

// Limiters in separate processes that share a quota through Redis, each
// wanting more than the quota, keep to its caps together, take fair
// shares of it, pause and resume together, and issue about what the caps
// allow: the runs the memory store is put through in one process
// (TestSharedQuotaUnderContention), at once, on one Redis server.
func TestProcessesShareAQuotaUnderContention(t *testing.T) {
	if !*contention {
		t.Skip("a measurement on the real clock: run it alone with -contention")
	}
	srv := redistest.Start(t)
	rdb := newClient(t, srv)
	store := redisstore.New(rdb)
	// Time to start the processes, on a busy machine too.
	start := time.Now().Truncate(time.Second).Add(2 * time.Second)
	type run struct {
		n    int
		c    storetest.Contention
		recs []storetest.Record
	}
	var runs []*run
	var wg sync.WaitGroup
	for n, c := range storetest.Contentions() {
		c.Dir = t.TempDir()
		r := &run{n: n, c: c, recs: make([]storetest.Record, n)}
		runs = append(runs, r)
		key := fmt.Sprint("contention-", n)
		if err := storetest.FillWindow(context.Background(), store, key, c, start); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			cfg, err := json.Marshal(hammerConfig{Redis: srv.Addr, Key: key, ID: fmt.Sprint("p", i), Start: start.UnixNano(), Contention: c})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), c.Duration+30*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), envHammer+"="+string(cfg))
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				lines := strings.Split(strings.TrimSpace(string(out)), "\n")
				if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &r.recs[i]); jerr != nil || err != nil {
					t.Errorf("%d limiters: process %d: %v, %v; stderr %q", n, i, err, jerr, stderr.String())
				}
			})
		}
	}
	wg.Wait()
	if time.Since(start) > runs[0].c.Duration+2*time.Second {
		t.Errorf("the processes ended %v after the start", time.Since(start))
	}
	for _, r := range runs {
		t.Run(fmt.Sprint(r.n, " processes"), func(t *testing.T) {
			res := storetest.Check(t, r.c, start, r.recs, 1, 1500*time.Millisecond)
			t.Log(res)
			if res.Ratio < 0.85 {
				t.Errorf("issued %.3f of what the caps allow", res.Ratio)
			}
		})
	}
}
