package redisstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/redisstore"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// The multi-process test runs this test binary again as each child
// process; the environment tells a child what to do.
const (
	envChild    = "RATELLMITER_TEST_CHILD"    // the child's index
	envRedis    = "RATELLMITER_TEST_REDIS"    // redis host:port
	envProvider = "RATELLMITER_TEST_PROVIDER" // the fake provider's base URL
	envRequests = "RATELLMITER_TEST_REQUESTS" // how many requests the child sends
	envInject   = "RATELLMITER_TEST_INJECT"   // after this many, a 429 that the server did not send
)

const (
	sharedRPM   = 600 // 10 a second, over every process
	children    = 4
	perChild    = 50
	injectAfter = 20
	injectHint  = 3 * time.Second
)

// quietLogger drops go-redis's log lines: the fault tests make it log
// every failed dial on purpose.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	if idx := os.Getenv(envChild); idx != "" {
		os.Exit(childMain(idx))
	}
	if cfg := os.Getenv(envHammer); cfg != "" {
		os.Exit(hammerMain(cfg))
	}
	if cfg := os.Getenv(envKill); cfg != "" {
		os.Exit(killMain(cfg))
	}
	// No goroutine may outlive the tests.
	goleak.VerifyTestMain(m)
}

// childReport is what a child prints on its last line.
type childReport struct {
	Index    string
	Issued   []int64 // Unix ns of every ticket issued
	OK       int     // requests answered 200
	Server   int     // 429s from the server
	Injected int64   // Unix ns of the injected 429; 0 if none
	Pauses   uint64
	Err      string
}

// childMain sends its requests to the fake provider under a limiter that
// shares sharedRPM through Redis, and prints a childReport.
func childMain(idx string) int {
	rep := childReport{Index: idx}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rep) }()
	n, _ := strconv.Atoi(os.Getenv(envRequests))
	inject, _ := strconv.Atoi(os.Getenv(envInject))
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis)})
	defer rdb.Close()
	mon := ratellmiter.NewMonitor()
	defer mon.Stop()
	l, err := ratellmiter.NewBucketRateLimiter(sharedRPM, ratellmiter.WithMonitor(mon),
		ratellmiter.WithStore(redisstore.New(rdb), "multiprocess", ratellmiter.WithProcessID("child-"+idx)))
	if err != nil {
		rep.Err = err.Error()
		return 1
	}
	url := os.Getenv(envProvider) + "/v1/chat/completions"
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
	var mu sync.Mutex
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 8 {
		wg.Go(func() {
			for j := range jobs {
				if err := childRequest(l, url, body, j == inject, &mu, &rep); err != nil {
					mu.Lock()
					rep.Err = err.Error()
					mu.Unlock()
				}
			}
		})
	}
	for j := 1; j <= n; j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	rep.Pauses = l.Stats().Pauses
	if rep.Err != "" {
		return 1
	}
	return 0
}

// childRequest makes one call under l, retrying it after a 429; inject
// reports a 429 before the first attempt, as if the server had sent one.
func childRequest(l *ratellmiter.BucketRateLimiter, url string, body []byte, inject bool, mu *sync.Mutex, rep *childReport) error {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	tk, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	for {
		mu.Lock()
		rep.Issued = append(rep.Issued, time.Now().UnixNano())
		mu.Unlock()
		status := 0
		if inject {
			inject = false
			mu.Lock()
			rep.Injected = time.Now().UnixNano()
			mu.Unlock()
			status = http.StatusTooManyRequests
		} else {
			resp, err := http.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				tk.Done()
				return err
			}
			resp.Body.Close()
			status = resp.StatusCode
			if status == http.StatusTooManyRequests {
				mu.Lock()
				rep.Server++
				mu.Unlock()
			}
		}
		switch status {
		case http.StatusOK:
			tk.Done()
			mu.Lock()
			rep.OK++
			mu.Unlock()
			return nil
		case http.StatusTooManyRequests:
			if err := tk.RateLimited(ctx, injectHint); err != nil {
				return err
			}
		default:
			tk.Done()
			return fmt.Errorf("status %d", status)
		}
	}
}

func TestFourProcessesShareOneQuotaThroughRedis(t *testing.T) {
	srv := redistest.Start(t)
	provider, baseURL, stop, err := fakeprovider.Start(fakeprovider.Config{RPM: 100 * sharedRPM})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	var reports []childReport
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range children {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envChild+"="+strconv.Itoa(i), envRedis+"="+srv.Addr,
				envProvider+"="+baseURL, envRequests+"="+strconv.Itoa(perChild))
			if i == 0 {
				cmd.Env = append(cmd.Env, envInject+"="+strconv.Itoa(injectAfter))
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			var rep childReport
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); jerr != nil || err != nil {
				t.Errorf("child %d: %v, %v; stdout %q; stderr %q", i, err, jerr, out, stderr.String())
			}
			mu.Lock()
			reports = append(reports, rep)
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// No request lost, and every 429 was the injected one.
	var issued []int64
	var injected int64
	for _, r := range reports {
		if r.OK != perChild || r.Err != "" {
			t.Errorf("child %s: %d of %d requests answered 200 (%s)", r.Index, r.OK, perChild, r.Err)
		}
		if r.Pauses < 1 {
			t.Errorf("child %s never paused", r.Index)
		}
		issued = append(issued, r.Issued...)
		injected = max(injected, r.Injected)
	}
	if st := provider.Stats(); st.Accepted != children*perChild || st.Rejected429 != 0 {
		t.Errorf("server accepted %d (want %d) and refused %d", st.Accepted, children*perChild, st.Rejected429)
	}

	// The quota held over every process: at most 10 tickets in any
	// second, 600 in any minute, by the processes' clocks, and by the
	// server's up to the ticket crossing a second's boundary on the way.
	perSec := map[int64]int{}
	for _, ns := range issued {
		perSec[ns/1e9]++
	}
	for s, n := range perSec {
		if n > sharedRPM/60 {
			t.Errorf("%d tickets issued in second %d, over the shared %d", n, s, sharedRPM/60)
		}
	}
	// The server counts arrivals, not issues: a ticket issued in the last
	// milliseconds of a second may arrive in the next one, on a busy
	// machine, so its seconds may see one more.
	for _, s := range provider.PerSecond() {
		if s.Accepted > sharedRPM/60+1 {
			t.Errorf("the server accepted %d in the second from %v", s.Accepted, s.Start.Format(time.StampMilli))
		}
	}

	// The 429 one process saw paused every process within a second,
	// until the probe when its hint expired.
	if injected == 0 {
		t.Fatal("child 0 never injected its 429")
	}
	quietFrom, quietTo := injected+int64(time.Second), injected+int64(injectHint)-int64(50*time.Millisecond)
	for _, r := range reports {
		for _, ns := range r.Issued {
			if ns > quietFrom && ns < quietTo {
				t.Errorf("child %s issued a ticket %v after the 429, while the quota was paused",
					r.Index, time.Duration(ns-injected))
			}
		}
	}
}
