package ratellmiter

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowStore is a real MemoryStore behind a round trip that takes delay
// (forever, until the sync's context ends, when delay < 0). It records
// every request, and tells started of each sync as it starts.
type slowStore struct {
	*MemoryStore
	mu      sync.Mutex
	delay   time.Duration
	started chan SyncRequest // buffered; nil: nobody listens
	reqs    []SyncRequest
}

func (s *slowStore) slow(delay time.Duration, started chan SyncRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay, s.started = delay, started
}

func (s *slowStore) requests() []SyncRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SyncRequest(nil), s.reqs...)
}

func (s *slowStore) Sync(ctx context.Context, key string, req SyncRequest) (SyncReply, error) {
	s.mu.Lock()
	d, started := s.delay, s.started
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	if started != nil {
		select {
		case started <- req:
		default:
		}
	}
	if d != 0 {
		var after <-chan time.Time
		if d > 0 {
			tm := time.NewTimer(d)
			defer tm.Stop()
			after = tm.C
		}
		select {
		case <-after:
		case <-ctx.Done():
			return SyncReply{}, ctx.Err()
		}
	}
	return s.MemoryStore.Sync(ctx, key, req)
}

// quotaState returns whether key's quota is paused and who holds its
// probe lease.
func (m *MemoryStore) quotaState(key string) (paused bool, holder string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if q := m.quotas[key]; q != nil {
		return q.paused, q.holder
	}
	return false, ""
}

// leaseRivals starts two limiters on one quota of 600 RPM in mem: a,
// which syncs through aStore (mem itself, or a wrapper of it) and probes
// with a service that hangs until its context ends, and b, which probes
// with canaries. a's first ticket is handed back with a 1 s hint, which
// pauses the quota; refused gives that RateLimited's result.
func leaseRivals(t *testing.T, mem *MemoryStore, aStore Store) (a, b *BucketRateLimiter, hang *scriptedService, refused <-chan error) {
	t.Helper()
	hang = newScriptedService(func(ctx context.Context) (bool, error) { <-ctx.Done(); return true, ctx.Err() })
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	a = quotaLimiter(t, m, aStore, "a", 600, nil, WithService(hang))
	b = quotaLimiter(t, m, mem, "b", 600, nil)
	tk, err := a.Acquire(context.Background())
	require.NoError(t, err)
	return a, b, hang, handBack(tk, time.Second)
}

// assertCanaryComesSoon checks that b's next ticket, the canary, comes
// within a second, not when a lease left by a closed limiter expires.
func assertCanaryComesSoon(t *testing.T, b *BucketRateLimiter) {
	t.Helper()
	start := time.Now()
	tk, err := b.Acquire(context.Background())
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Second, "not when a's lease expires, %v after it was granted",
		DefaultProbeTimeout+leaseMargin)
	tk.Done()
}

// quotaLimiter returns a limiter at rpm on m, sharing the quota "quota"
// of store as id.
func quotaLimiter(t *testing.T, m *Monitor, store Store, id string, rpm int, sopts []StoreOption, opts ...Option) *BucketRateLimiter {
	t.Helper()
	all := append([]Option{WithMonitor(m), WithName(id),
		WithStore(store, "quota", append([]StoreOption{WithProcessID(id)}, sopts...)...)}, opts...)
	l, err := NewBucketRateLimiter(rpm, all...)
	require.NoError(t, err)
	return l
}

const finalTimeout = 100 * time.Millisecond

// A rate limit seen while a heartbeat is in flight, and the limiter closed
// at once: the store hears of it from the final sync, and the other
// limiter pauses. Close does not wait for the store.
func TestFinalSyncCloseTellsARateLimitSeenJustBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		slow := &slowStore{MemoryStore: mem}
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		a := quotaLimiter(t, m, slow, "a", 600, []StoreOption{WithSyncTimeout(finalTimeout)})
		b := quotaLimiter(t, m, mem, "b", 600, nil)
		tk, err := a.Acquire(context.Background())
		require.NoError(t, err)
		time.Sleep(time.Second) // both synced, idle

		started := make(chan SyncRequest, 1)
		slow.slow(90*time.Millisecond, started)
		req := <-started // a heartbeat: it tells nothing
		require.Empty(t, req.Events)
		refused := handBack(tk, 5*time.Second)
		synctest.Wait()
		start := time.Now()
		require.NoError(t, a.Close())
		assert.Zero(t, time.Since(start), "Close does not wait for the store")
		assert.ErrorIs(t, <-refused, ErrClosed)

		time.Sleep(2 * finalTimeout) // the heartbeat ends, then the final sync
		paused, _ := mem.quotaState("quota")
		assert.True(t, paused, "the store heard of the rate limit")
		time.Sleep(syncTick)
		synctest.Wait()
		assert.True(t, b.Stats().Paused, "the other limiter paused")
	})
}

// Monitor.Stop cuts short the sync that tells a rate limit; the final sync
// tells it again, and Stop returns within two sync timeouts even when the
// store never answers.
func TestFinalSyncStopTellsARateLimitWithinTwoSyncTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{
		{"slow store", finalTimeout - 10*time.Millisecond},
		{"store that never answers", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := NewMemoryStore()
				slow := &slowStore{MemoryStore: mem}
				ma, mb := NewMonitor(), NewMonitor()
				t.Cleanup(func() { ma.Stop(); mb.Stop() })
				a := quotaLimiter(t, ma, slow, "a", 600, []StoreOption{WithSyncTimeout(finalTimeout)})
				quotaLimiter(t, mb, mem, "b", 600, nil)
				tk, err := a.Acquire(context.Background())
				require.NoError(t, err)
				time.Sleep(1100 * time.Millisecond) // synced, idle, between two heartbeats

				started := make(chan SyncRequest, 1)
				slow.slow(tc.delay, started)
				refused := handBack(tk, 5*time.Second)
				req := <-started // the sync that tells the rate limit
				require.Len(t, req.Events, 1)
				start := time.Now()
				require.NoError(t, ma.Stop())
				assert.LessOrEqual(t, time.Since(start), 2*finalTimeout, "Stop's bound")
				assert.ErrorIs(t, <-refused, ErrStopped)

				var retried bool
				for _, r := range slow.requests() {
					if r.Retry == req.Seq && len(r.Events) == 1 && r.Events[0].Kind == QuotaRefused && r.Want == 0 && !r.WantProbe {
						retried = true
					}
				}
				assert.True(t, retried, "the rate limit was told again, asking for nothing (%+v)", slow.requests())
				if tc.delay > 0 {
					paused, _ := mem.quotaState("quota")
					assert.True(t, paused, "the store heard of the rate limit")
				}
			})
		})
	}
}

// A limiter that holds the probe lease and closes releases it: the other
// limiter probes at once instead of when the lease expires.
func TestFinalSyncCloseReleasesTheProbeLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		a, b, hang, refused := leaseRivals(t, mem, mem)
		time.Sleep(1500 * time.Millisecond) // a's probe is due, leased and running
		synctest.Wait()
		paused, holder := mem.quotaState("quota")
		require.True(t, paused)
		require.Equal(t, "a", holder)
		require.Len(t, hang.callTimes(), 1)
		require.True(t, b.Stats().Paused)

		require.NoError(t, a.Close())
		assert.ErrorIs(t, <-refused, ErrClosed)
		assertCanaryComesSoon(t, b)
	})
}

// A closed limiter hands back the tickets it leased and did not issue, so
// the other limiters may issue them this second; a limiter whose Monitor
// stops keeps them, as it may issue them until the Monitor shuts it down.
func TestFinalSyncCloseHandsBackTheLease(t *testing.T) {
	for _, closeIt := range []bool{true, false} {
		name := map[bool]string{true: "Close", false: "Monitor.Stop"}[closeIt]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := NewMemoryStore()
				m := NewMonitor()
				t.Cleanup(func() { m.Stop() })
				a := quotaLimiter(t, m, mem, "a", 6000, nil) // leases of up to 25
				time.Sleep(time.Second)

				ctx, cancel := context.WithCancel(context.Background())
				got := make(chan *Ticket, 3)
				for range 3 {
					go func() {
						tk, err := a.Acquire(ctx)
						if err != nil {
							tk = nil
						}
						got <- tk
					}()
				}
				synctest.Wait() // two or three leased 10 ms apart, the first issued
				first := <-got
				require.NotNil(t, first)
				cancel()
				for range 2 {
					assert.Nil(t, <-got)
				}
				first.Done()
				sec := time.Now().Unix()
				leased := mem.countsOf("quota")[sec]
				require.Greater(t, leased, 1, "tickets leased and not issued")

				if closeIt {
					require.NoError(t, a.Close())
				} else {
					require.NoError(t, m.Stop())
				}
				synctest.Wait()
				require.Equal(t, sec, time.Now().Unix())
				want := map[bool]int{true: 1, false: leased}[closeIt]
				assert.Equal(t, want, mem.countsOf("quota")[sec], "counted this second")
			})
		})
	}
}
