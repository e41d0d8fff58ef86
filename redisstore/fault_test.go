package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/redistest"
	"github.com/ratellmiter/ratellmiter/redisstore"
)

// newSharedLimiter returns a limiter at sharedRPM on the quota "fault" of
// srv, with a Redis client and a Monitor of its own, as a process has.
func newSharedLimiter(t *testing.T, srv *redistest.Server, id string, policy ratellmiter.FailurePolicy) *ratellmiter.BucketRateLimiter {
	t.Helper()
	mon := ratellmiter.NewMonitor()
	t.Cleanup(func() { mon.Stop() })
	l, err := ratellmiter.NewBucketRateLimiter(sharedRPM, ratellmiter.WithMonitor(mon), ratellmiter.WithRampUp(1, 1),
		ratellmiter.WithStore(redisstore.New(newClient(t, srv)), "fault", policy, ratellmiter.WithProcessID(id)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// stamps records when each limiter issued its tickets.
type stamps struct {
	mu    sync.Mutex
	at    map[string][]time.Time
	worst time.Duration // the longest Acquire
}

// drive keeps four callers taking tickets from l until ctx ends.
func (s *stamps) drive(ctx context.Context, wg *sync.WaitGroup, t *testing.T, name string, l *ratellmiter.BucketRateLimiter) {
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				start := time.Now()
				actx, cancel := context.WithTimeout(ctx, 3*time.Second)
				tk, err := l.Acquire(actx)
				cancel()
				s.mu.Lock()
				s.worst = max(s.worst, time.Since(start))
				if err == nil {
					s.at[name] = append(s.at[name], time.Now())
				}
				s.mu.Unlock()
				if err == nil {
					tk.Done()
				} else if ctx.Err() == nil {
					t.Errorf("%s: Acquire: %v", name, err)
					return
				}
			}
		})
	}
}

// inSecond counts name's tickets per Unix second.
func (s *stamps) inSecond(name string) map[int64]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[int64]int{}
	for _, at := range s.at[name] {
		m[at.Unix()]++
	}
	return m
}

func TestFallbackLocalWhileRedisIsDownThenSharingAgain(t *testing.T) {
	srv := redistest.Start(t)
	a := newSharedLimiter(t, srv, "a", ratellmiter.FallbackLocal)
	b := newSharedLimiter(t, srv, "b", ratellmiter.FallbackLocal)
	s := &stamps{at: map[string][]time.Time{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	s.drive(ctx, &wg, t, "a", a)
	s.drive(ctx, &wg, t, "b", b)

	time.Sleep(1500 * time.Millisecond)
	srv.Stop()
	stopped := time.Now()
	time.Sleep(3 * time.Second)
	srv.Start()
	restarted := time.Now()
	time.Sleep(2500 * time.Millisecond)
	cancel()
	wg.Wait()

	if s.worst > 2*time.Second {
		t.Errorf("an Acquire took %v", s.worst)
	}
	as, bs := s.inSecond("a"), s.inSecond("b")
	for sec := stopped.Unix(); sec <= restarted.Unix()+2; sec++ {
		total := as[sec] + bs[sec]
		inFallback := sec > stopped.Unix() && sec < restarted.Unix()
		switch {
		case inFallback && (as[sec] > 5 || bs[sec] > 5):
			t.Errorf("second %d without redis: a issued %d, b %d; want at most 5 each (1/2 of 10)", sec, as[sec], bs[sec])
		case total > 10+5:
			t.Errorf("second %d: %d issued, more than one limiter's share over the limit", sec, total)
		}
	}
	for sec := restarted.Unix() + 2; sec < time.Now().Unix(); sec++ {
		if total := as[sec] + bs[sec]; total > 10 {
			t.Errorf("second %d, sharing again: %d issued", sec, total)
		}
	}
	got := len(s.at["a"]) + len(s.at["b"])
	t.Logf("%d tickets in 7 s", got)
	if min := 10 * 6; got < min {
		t.Errorf("%d tickets in 7 s, want at least %d: the fallback or the recovery starved", got, min)
	}

	// Sharing resumed: both limiters sync to the restarted server.
	rdb := newClient(t, srv)
	keys := redisstore.New(rdb).Keys("fault")
	live, err := rdb.ZCard(context.Background(), keys[2]).Result()
	if err != nil || live != 2 {
		t.Errorf("live limiters after the restart: %d (%v), want 2", live, err)
	}
	counts, err := rdb.HGetAll(context.Background(), keys[0]).Result()
	if err != nil || len(counts) == 0 {
		t.Errorf("tickets counted after the restart: %v (%v)", counts, err)
	}
}

func TestFailClosedWhileRedisIsDownThenRecovers(t *testing.T) {
	srv := redistest.Start(t)
	l := newSharedLimiter(t, srv, "closed", ratellmiter.FailClosed)
	acquire := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		tk, err := l.Acquire(ctx)
		if err == nil {
			tk.Done()
		}
		return time.Since(start), err
	}
	if _, err := acquire(); err != nil {
		t.Fatalf("Acquire with redis up: %v", err)
	}

	srv.Stop()
	var err error
	deadline := time.Now().Add(3 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		var took time.Duration
		if took, err = acquire(); took > time.Second {
			t.Errorf("Acquire took %v with redis down", took)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !errors.Is(err, ratellmiter.ErrStoreUnavailable) {
		t.Fatalf("Acquire with redis down: %v, want ErrStoreUnavailable", err)
	}
	// Refused without a wait: measured in virtual time by
	// TestFailClosedRefusesWhileTheStoreIsDownAndRecovers; here only a
	// hang would fail, so the bound is the sync timeout.
	if took, err := acquire(); !errors.Is(err, ratellmiter.ErrStoreUnavailable) || took > ratellmiter.DefaultSyncTimeout {
		t.Errorf("Acquire once the loss is known: %v after %v, want ErrStoreUnavailable without a wait", err, took)
	}

	srv.Start()
	deadline = time.Now().Add(3 * time.Second)
	for err != nil && time.Now().Before(deadline) {
		_, err = acquire()
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("Acquire after redis restarted: %v", err)
	}
}
