package redisstore_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/redisstore"
	"github.com/redis/go-redis/v9"
)

// These tests share a quota between real processes, one of which is
// killed (SIGKILL) at a chosen moment: it says nothing to the store, and
// the others must recover as the README says. Separate processes cannot
// share a virtual clock, so these tests run on the real one, for a few
// seconds each, and assert only documented bounds, with wide margins.

// envKill holds, as JSON, a killConfig: the test binary runs as one
// process of a kill test.
const envKill = "RATELLMITER_TEST_KILL"

// killConfig says what one process of a kill test does.
type killConfig struct {
	Redis, Key, ID, URL string
	RPM                 int
	ProbeTimeout        time.Duration
	Hint                time.Duration // the retry hint a 429 is reported with
	Requests, Workers   int
	Gate                bool // wait for a line on stdin before sending
}

// killReport is what a process of a kill test prints when it ends.
type killReport struct {
	ID  string
	OK  int // requests answered 200
	RPM int // the limit it worked at in the end
	Err string
}

// killMain sends cfg.Requests requests to cfg.URL, each retried after a
// 429, under a limiter that shares cfg.RPM through Redis.
func killMain(js string) int {
	var cfg killConfig
	rep := killReport{}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rep) }()
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		rep.Err = err.Error()
		return 1
	}
	rep.ID = cfg.ID
	// Nothing here may outlive a test that went wrong.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis})
	defer rdb.Close()
	mon := ratellmiter.NewMonitor()
	defer mon.Stop()
	l, err := ratellmiter.NewBucketRateLimiter(cfg.RPM, ratellmiter.WithMonitor(mon),
		ratellmiter.WithProbeTimeout(cfg.ProbeTimeout),
		ratellmiter.WithStore(redisstore.New(rdb), cfg.Key, ratellmiter.WithProcessID(cfg.ID)))
	if err != nil {
		rep.Err = err.Error()
		return 1
	}
	if cfg.Gate {
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			rep.Err = "gate: " + err.Error()
			return 1
		}
	}
	client := &http.Client{Timeout: 25 * time.Second}
	var mu sync.Mutex
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range cfg.Workers {
		wg.Go(func() {
			for range jobs {
				err := killRequest(ctx, l, client, cfg)
				mu.Lock()
				if err != nil {
					rep.Err = err.Error()
				} else {
					rep.OK++
				}
				mu.Unlock()
			}
		})
	}
	for range cfg.Requests {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	rep.RPM = l.RPM()
	if rep.Err != "" {
		return 1
	}
	return 0
}

// killRequest makes one call under l, retrying it after a 429.
func killRequest(ctx context.Context, l *ratellmiter.BucketRateLimiter, client *http.Client, cfg killConfig) error {
	tk, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, nil)
		if err != nil {
			tk.Done()
			return err
		}
		req.Header.Set("X-Process", cfg.ID)
		resp, err := client.Do(req)
		if err != nil {
			tk.Done()
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			tk.Done()
			return nil
		case http.StatusTooManyRequests:
			if err := tk.RateLimited(ctx, cfg.Hint); err != nil {
				return err
			}
		default:
			tk.Done()
			return fmt.Errorf("status %d", resp.StatusCode)
		}
	}
}

// verdict is how the test server answers one request.
type verdict int

const (
	accept verdict = iota
	refuse         // 429
	hang           // no answer until the client goes away
)

// arrival is one request the test server received.
type arrival struct {
	From string // the process that sent it
	At   time.Time
	V    verdict
}

// quotaServer is an HTTP server on 127.0.0.1 that answers as its policy
// says and records every request.
type quotaServer struct {
	*httptest.Server
	mu       sync.Mutex
	policy   func(from string, n int, at time.Time) verdict // n: the sender's requests so far, this one included
	arrivals []arrival
	sent     map[string]int
}

func startQuotaServer(t *testing.T, policy func(from string, n int, at time.Time) verdict) *quotaServer {
	s := &quotaServer{policy: policy, sent: map[string]int{}}
	gone := make(chan struct{})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from := r.Header.Get("X-Process")
		s.mu.Lock()
		now := time.Now()
		s.sent[from]++
		v := s.policy(from, s.sent[from], now)
		s.arrivals = append(s.arrivals, arrival{From: from, At: now, V: v})
		s.mu.Unlock()
		switch v {
		case refuse:
			w.WriteHeader(http.StatusTooManyRequests)
		case hang:
			select {
			case <-r.Context().Done():
			case <-gone:
			}
		}
	}))
	t.Cleanup(func() {
		close(gone)
		s.Close()
	})
	return s
}

// setPolicy replaces the server's policy.
func (s *quotaServer) setPolicy(p func(from string, n int, at time.Time) verdict) {
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
}

// log returns the requests received so far.
func (s *quotaServer) log() []arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]arrival(nil), s.arrivals...)
}

// first returns the first request accepted from one of from at or after
// since, and whether there is one.
func (s *quotaServer) first(since time.Time, from ...string) (time.Time, bool) {
	for _, a := range s.log() {
		if a.V == accept && !a.At.Before(since) && contains(from, a.From) {
			return a.At, true
		}
	}
	return time.Time{}, false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// checkCaps fails t if the requests the server accepted exceed perSec in
// any wall-clock second, or perSec times k in any k seconds, or rpm in
// all: the run lasts less than a minute. A ticket issued at the end of a
// second may arrive in the next one, on a busy machine: each span may
// see one more.
func checkCaps(t *testing.T, log []arrival, perSec, rpm int) {
	t.Helper()
	counts := map[int64]int{}
	total := 0
	var lo, hi int64
	for _, a := range log {
		if a.V != accept {
			continue
		}
		s := a.At.Unix()
		if total == 0 || s < lo {
			lo = s
		}
		hi = max(hi, s)
		counts[s]++
		total++
	}
	if total > rpm {
		t.Errorf("the server accepted %d requests in less than a minute, over the %d a minute", total, rpm)
	}
	for from := lo; from <= hi; from++ {
		n := 0
		for to := from; to <= hi; to++ {
			n += counts[to]
			if k := int(to - from + 1); n > k*perSec+1 {
				t.Errorf("the server accepted %d requests in the %d s from %s, over %d a second",
					n, k, time.Unix(from, 0).Format(time.TimeOnly), perSec)
			}
		}
	}
}

// killProc is a process of a kill test.
type killProc struct {
	cfg   killConfig
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	rep   killReport
	err   error
}

// startKillProc starts the test binary as the process cfg describes; it
// is killed when ctx ends.
func startKillProc(t *testing.T, ctx context.Context, cfg killConfig) *killProc {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &killProc{cfg: cfg, done: make(chan struct{})}
	p.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), envKill+"="+string(js))
	var stdout, stderr strings.Builder
	p.cmd.Stdout, p.cmd.Stderr = &stdout, &stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		p.err = p.cmd.Wait()
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &p.rep); jerr != nil && p.err == nil {
			p.err = fmt.Errorf("%v; stdout %q", jerr, stdout.String())
		}
		if p.err != nil {
			p.err = fmt.Errorf("%w; stderr %q", p.err, stderr.String())
		}
	}()
	t.Cleanup(func() {
		_ = p.stdin.Close()
		<-p.done
	})
	return p
}

// open lets a gated process send its requests.
func (p *killProc) open(t *testing.T) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
		t.Fatalf("%s: %v", p.cfg.ID, err)
	}
}

// kill ends the process at once (SIGKILL) and returns when.
func (p *killProc) kill(t *testing.T) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing %s: %v", p.cfg.ID, err)
	}
	return at
}

// wait waits for the process to end, at most until deadline, and fails
// t unless it answered every request.
func (p *killProc) wait(t *testing.T, deadline time.Time) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("%s did not finish its %d requests in time", p.cfg.ID, p.cfg.Requests)
	}
	if p.err != nil || p.rep.OK != p.cfg.Requests {
		t.Errorf("%s: %d of %d requests answered: %v %s", p.cfg.ID, p.rep.OK, p.cfg.Requests, p.err, p.rep.Err)
	}
}

// waitFor polls cond until it holds, and fails t after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// quotaState reads fields of the quota's shared state in Redis.
func quotaState(t *testing.T, rdb *redis.Client, key string, fields ...string) []string {
	t.Helper()
	vs, err := rdb.HMGet(context.Background(), redisstore.New(rdb).Keys(key)[1], fields...).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i], _ = v.(string)
	}
	return out
}

// killSetup starts Redis and returns a client to it and a context that
// bounds the test's processes.
func killSetup(t *testing.T) (*redistest.Server, *redis.Client, context.Context) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	t.Cleanup(cancel)
	return srv, rdb, ctx
}

func TestAKilledProbeHolderPausesTheQuotaOnlyUntilItsLeaseExpires(t *testing.T) {
	t.Parallel()
	const (
		rpm          = 240 // 4 a second
		probeTimeout = 500 * time.Millisecond
		leaseTTL     = probeTimeout + 2*time.Second // the README: the probe timeout plus 2 s
	)
	srv, rdb, ctx := killSetup(t)
	// The victim is refused until its canary comes, which the server
	// holds without an answer: it holds the probe lease.
	var refusedAt time.Time
	canary := make(chan time.Time, 1)
	qs := startQuotaServer(t, func(from string, n int, at time.Time) verdict {
		if refusedAt.IsZero() {
			refusedAt = at
			return refuse
		}
		if from == "victim" && at.Sub(refusedAt) > 100*time.Millisecond {
			select {
			case canary <- at:
			default:
			}
			return hang
		}
		return refuse
	})
	cfg := func(id string, n int, gate bool) killConfig {
		return killConfig{Redis: srv.Addr, Key: "kill-probe", ID: id, URL: qs.URL, RPM: rpm,
			ProbeTimeout: probeTimeout, Hint: 300 * time.Millisecond, Requests: n, Workers: 3, Gate: gate}
	}
	victim := startKillProc(t, ctx, cfg("victim", 4, false))
	survivors := []*killProc{startKillProc(t, ctx, cfg("s1", 3, true)), startKillProc(t, ctx, cfg("s2", 3, true))}

	var canaryAt time.Time
	select {
	case canaryAt = <-canary:
	case <-time.After(10 * time.Second):
		t.Fatal("the victim sent no canary")
	}
	for _, s := range survivors {
		s.open(t) // paused: they wait
	}
	time.Sleep(200 * time.Millisecond)
	st := quotaState(t, rdb, "kill-probe", "holder", "lease_until", "paused")
	if st[0] != "victim" || st[2] != "1" {
		t.Fatalf("before the kill, the quota's state is holder %q, paused %q", st[0], st[2])
	}
	leaseMs, _ := strconv.ParseInt(st[1], 10, 64)
	leaseUntil := time.UnixMilli(leaseMs)
	qs.setPolicy(func(string, int, time.Time) verdict { return accept })
	killed := victim.kill(t)

	deadline := killed.Add(leaseTTL + 8*time.Second)
	for _, s := range survivors {
		s.wait(t, deadline)
	}
	resumed, ok := qs.first(killed, "s1", "s2")
	if !ok {
		t.Fatal("no survivor's request was accepted")
	}
	t.Logf("canary sent %v before the kill; the lease had %v left at the kill; the survivors' first request came %v after the kill (%v after the lease expired)",
		killed.Sub(canaryAt).Round(time.Millisecond), leaseUntil.Sub(killed).Round(time.Millisecond),
		resumed.Sub(killed).Round(time.Millisecond), resumed.Sub(leaseUntil).Round(time.Millisecond))
	// Only one probes at a time: the lease of the dead holder stands
	// until it expires ...
	if resumed.Before(leaseUntil.Add(-50 * time.Millisecond)) {
		t.Errorf("a survivor probed %v before the dead holder's lease expired", leaseUntil.Sub(resumed))
	}
	// ... and no longer.
	if d := resumed.Sub(killed); d > leaseTTL+3*time.Second {
		t.Errorf("the survivors resumed %v after the kill, over the lease's %v plus 3 s", d, leaseTTL)
	}
	var after []arrival
	for _, a := range qs.log() {
		if a.At.After(killed) {
			after = append(after, a)
		}
	}
	checkCaps(t, after, rpm/60, rpm)
}

func TestTicketsLeasedToAKilledProcessKeepTheCapsAndTheOthersGoOn(t *testing.T) {
	t.Parallel()
	const rpm = 600 // 10 a second, leased 2 at a time
	srv, rdb, ctx := killSetup(t)
	qs := startQuotaServer(t, func(string, int, time.Time) verdict { return accept })
	cfg := func(id string, n int) killConfig {
		return killConfig{Redis: srv.Addr, Key: "kill-lease", ID: id, URL: qs.URL, RPM: rpm,
			ProbeTimeout: time.Second, Hint: time.Second, Requests: n, Workers: 6}
	}
	victim := startKillProc(t, ctx, cfg("victim", 200))
	survivors := []*killProc{startKillProc(t, ctx, cfg("s1", 16)), startKillProc(t, ctx, cfg("s2", 16))}
	waitFor(t, 10*time.Second, "every process sending", func() bool {
		_, v := qs.first(time.Time{}, "victim")
		_, s1 := qs.first(time.Time{}, "s1")
		_, s2 := qs.first(time.Time{}, "s2")
		return v && s1 && s2
	})

	// Killed just after a grant whose second ticket's slot is still to
	// come: it dies holding a leased ticket it did not issue.
	acks := redisstore.New(rdb).Keys("kill-lease")[3]
	var killed time.Time
	var grant []string
	waitFor(t, 5*time.Second, "a grant of two tickets to the victim", func() bool {
		v, err := rdb.HGet(context.Background(), acks, "victim").Result()
		if err != nil {
			return false
		}
		grant = strings.Split(v, ":") // seq:batch:sec:granted:slot:spacing
		n, _ := strconv.Atoi(grant[3])
		slot, _ := strconv.ParseInt(grant[4], 10, 64)
		gap, _ := strconv.ParseInt(grant[5], 10, 64)
		if n < 2 || time.Now().UnixMilli()+5 >= slot+gap {
			return false
		}
		killed = victim.kill(t)
		return true
	})
	for _, s := range survivors {
		s.wait(t, killed.Add(8*time.Second))
	}
	var last time.Time
	perSec := map[int64]int{}
	for _, a := range qs.log() {
		if a.From != "victim" && a.At.After(killed) {
			last = a.At
			perSec[a.At.Unix()]++
		}
	}
	t.Logf("killed holding a grant of %s tickets of second %s; the survivors' last request came %v after the kill; their requests a second from the kill's: %v",
		grant[3], grant[2], last.Sub(killed).Round(time.Millisecond), secondsFrom(perSec, killed.Unix()))
	// The others, with work left, go on at the quota's rate in the
	// second after the kill's.
	if n := perSec[killed.Unix()+1]; n < rpm/60/2 {
		t.Errorf("the survivors issued %d in the second after the kill's, under half the %d a second", n, rpm/60)
	}
	checkCaps(t, qs.log(), rpm/60, rpm)
}

// secondsFrom lists counts by second from the second from on.
func secondsFrom(counts map[int64]int, from int64) []int {
	var hi int64
	for s := range counts {
		hi = max(hi, s)
	}
	var out []int
	for s := from; s <= hi; s++ {
		out = append(out, counts[s])
	}
	return out
}

func TestALimitLearnedByAKilledProcessHoldsTheOthers(t *testing.T) {
	t.Parallel()
	const rpm = 480 // 8 a second
	srv, rdb, ctx := killSetup(t)
	// The victim's first request is refused, its canary accepted, and its
	// next request refused: paused again soon after resuming, it halves
	// the limit.
	qs := startQuotaServer(t, func(from string, n int, _ time.Time) verdict {
		if from == "victim" && (n == 1 || n == 3) {
			return refuse
		}
		return accept
	})
	cfg := func(id string, n int, gate bool) killConfig {
		return killConfig{Redis: srv.Addr, Key: "kill-learned", ID: id, URL: qs.URL, RPM: rpm,
			ProbeTimeout: time.Second, Hint: 300 * time.Millisecond, Requests: n, Workers: 4, Gate: gate}
	}
	victim := startKillProc(t, ctx, cfg("victim", 100, false))
	survivors := []*killProc{startKillProc(t, ctx, cfg("s1", 6, true)), startKillProc(t, ctx, cfg("s2", 6, true))}
	var learned int
	waitFor(t, 10*time.Second, "a learned limit in the store", func() bool {
		learned, _ = strconv.Atoi(quotaState(t, rdb, "kill-learned", "learned")[0])
		return learned > 0
	})
	killed := victim.kill(t)
	for _, s := range survivors {
		s.open(t)
	}
	for _, s := range survivors {
		s.wait(t, killed.Add(10*time.Second))
	}
	if learned != rpm/2 {
		t.Errorf("the victim learned %d RPM, not half the %d the quota ran at", learned, rpm)
	}
	var after []arrival
	perSec := map[int64]int{}
	for _, a := range qs.log() {
		if a.At.After(killed) {
			after = append(after, a)
			perSec[a.At.Unix()]++
		}
	}
	resumed, _ := qs.first(killed, "s1", "s2")
	t.Logf("learned %d RPM; the survivors' first request came %v after the kill; their requests a second from the kill's: %v",
		learned, resumed.Sub(killed).Round(time.Millisecond), secondsFrom(perSec, killed.Unix()))
	for _, s := range survivors {
		if s.rep.RPM != learned {
			t.Errorf("%s worked at %d RPM, not the %d learned on the quota", s.cfg.ID, s.rep.RPM, learned)
		}
	}
	checkCaps(t, after, (learned+59)/60, learned)
}

func TestTheCapsOfAKilledProcessHoldTheOthersOnlyUntilLiveTTL(t *testing.T) {
	t.Parallel()
	const (
		low, high = 120, 480 // 2 and 8 a second
		liveTTL   = 3 * time.Second
	)
	srv, rdb, ctx := killSetup(t)
	qs := startQuotaServer(t, func(string, int, time.Time) verdict { return accept })
	cfg := func(id string, rpm, n int) killConfig {
		return killConfig{Redis: srv.Addr, Key: "kill-caps", ID: id, URL: qs.URL, RPM: rpm,
			ProbeTimeout: time.Second, Hint: time.Second, Requests: n, Workers: 4}
	}
	victim := startKillProc(t, ctx, cfg("victim", low, 100))
	survivors := []*killProc{startKillProc(t, ctx, cfg("s1", high, 10)), startKillProc(t, ctx, cfg("s2", high, 10))}
	waitFor(t, 10*time.Second, "every process sending", func() bool {
		_, v := qs.first(time.Time{}, "victim")
		_, s1 := qs.first(time.Time{}, "s1")
		_, s2 := qs.first(time.Time{}, "s2")
		return v && s1 && s2
	})
	killed := victim.kill(t)
	for _, s := range survivors {
		s.wait(t, killed.Add(liveTTL+8*time.Second))
	}
	// Its heartbeat, read once a sync of its on the way at the kill has
	// landed.
	beat, err := rdb.ZScore(context.Background(), redisstore.New(rdb).Keys("kill-caps")[2], "victim").Result()
	if err != nil {
		t.Fatal(err)
	}
	lastSync := time.UnixMilli(int64(beat))
	perSec := map[int64]int{}
	for _, a := range qs.log() {
		perSec[a.At.Unix()]++
	}
	// The caps lifted in the first second over the victim's cap.
	var lifted int64
	for s := killed.Unix(); s <= killed.Unix()+20; s++ {
		if perSec[s] > low/60+1 {
			lifted = s
			break
		}
	}
	t.Logf("the victim last synced %v before the kill; the requests a second from the kill's: %v; the first second over its cap began %v after the kill",
		killed.Sub(lastSync).Round(time.Millisecond), secondsFrom(perSec, killed.Unix()), time.Unix(lifted, 0).Sub(killed).Round(time.Millisecond))
	if lifted == 0 {
		t.Fatal("the survivors never went over the dead process's cap")
	}
	// The dead process's caps hold until LiveTTL after its last sync ...
	if end := time.Unix(lifted+1, 0); end.Before(lastSync.Add(liveTTL)) {
		t.Errorf("the survivors went over the dead process's cap in the second ending %v after its last sync", end.Sub(lastSync))
	}
	// ... and no longer.
	if start := time.Unix(lifted, 0); start.After(lastSync.Add(liveTTL + 2*time.Second)) {
		t.Errorf("the survivors were held to the dead process's cap until %v after its last sync", start.Sub(lastSync))
	}
	checkCaps(t, qs.log(), high/60, high)
}
