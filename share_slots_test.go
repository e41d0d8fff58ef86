package ratellmiter_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/storetest"
)

// slotStore records the slots of every grant, by limiter.
type slotStore struct {
	ratellmiter.Store
	mu    sync.Mutex
	slots map[string][]int64
}

func (s *slotStore) Sync(ctx context.Context, key string, req ratellmiter.SyncRequest) (ratellmiter.SyncReply, error) {
	rep, err := s.Store.Sync(ctx, key, req)
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range rep.Granted {
		s.slots[req.ID] = append(s.slots[req.ID], rep.NotBefore+int64(k)*rep.Spacing)
	}
	return rep, err
}

// Limiters sharing a quota issue each leased ticket no sooner than the slot
// the store gave it, a lease asked for while the one before still has
// tickets included: else a limiter's tickets come on other limiters'
// slots, two at once.
func TestSharedTicketsAreIssuedNoSoonerThanTheirSlots(t *testing.T) {
	for _, rpm := range []int{600, 1200} {
		for _, n := range []int{2, 5} {
			t.Run(fmt.Sprint(n, " limiters at ", rpm, " RPM"), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := storetest.Contention{RPM: rpm, Goroutines: 8, Duration: 30 * time.Second, Dir: t.TempDir()}
					m := ratellmiter.NewMonitor()
					defer m.Stop()
					store := &slotStore{Store: ratellmiter.NewMemoryStore(), slots: map[string][]int64{}}
					start := time.Now().Truncate(time.Second).Add(2 * time.Second)
					recs := hammerAll(sharedLimiters(t, m, store, n, c.RPM), c, start)
					store.mu.Lock()
					defer store.mu.Unlock()
					for i, r := range recs {
						// The k-th ticket of a second comes no sooner than
						// the k-th slot granted in it.
						slots := map[int64][]int64{}
						for _, s := range store.slots[fmt.Sprint("p", i)] {
							slots[s/1e9] = append(slots[s/1e9], s)
						}
						issued := slices.Sorted(slices.Values(r.Issued))
						k := map[int64]int{}
						for _, at := range issued {
							sec := at / 1e9
							ss := slices.Sorted(slices.Values(slots[sec]))
							if j := k[sec]; j < len(ss) && at < ss[j] {
								t.Errorf("limiter %d: ticket %d of second %d issued %v before its slot",
									i, j, sec-start.Unix(), time.Duration(ss[j]-at))
							}
							k[sec]++
						}
					}
				})
			})
		}
	}
}

// leaseScript is a store that grants the quota's tickets of a limiter
// alone as its script says: the n-th request that wants tickets gets
// grants[n], on slots from the given offset into its second, 50 ms apart.
type leaseScript struct {
	mu     sync.Mutex
	asked  int
	grants []struct {
		n    int
		from time.Duration
	}
}

func (s *leaseScript) Sync(ctx context.Context, key string, req ratellmiter.SyncRequest) (ratellmiter.SyncReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := ratellmiter.SyncReply{Live: 1}
	if req.Want > 0 {
		if s.asked < len(s.grants) {
			g := s.grants[s.asked]
			rep.Granted = min(g.n, req.Want)
			rep.NotBefore = req.Sec*int64(time.Second) + int64(g.from)
			rep.Spacing = int64(50 * time.Millisecond)
		}
		s.asked++
	}
	return rep, nil
}

// A lease granted at a heartbeat, while the limiter still has tickets of
// the lease before, is issued on its own slots, not on those that follow
// the earlier lease's.
func TestALeaseGrantedBeforeTheLastRanOutKeepsItsSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &leaseScript{grants: []struct {
			n    int
			from time.Duration
		}{{1, 600 * time.Millisecond}, {4, 800 * time.Millisecond}}}
		m := ratellmiter.NewMonitor()
		defer m.Stop()
		l, err := ratellmiter.NewBucketRateLimiter(1200, ratellmiter.WithMonitor(m), ratellmiter.WithStore(store, "quota"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var mu sync.Mutex
		var got []time.Duration
		var wg sync.WaitGroup
		acquire := func() {
			tk, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, time.Since(start))
			mu.Unlock()
			tk.Done()
		}
		// One caller first, who gets the first lease; then four more,
		// for whom the limiter asks at its next sync.
		wg.Go(acquire)
		synctest.Wait()
		for range 4 {
			wg.Go(acquire)
		}
		wg.Wait()
		slices.Sort(got)
		want := []time.Duration{600 * time.Millisecond, 800 * time.Millisecond, 850 * time.Millisecond,
			900 * time.Millisecond, 950 * time.Millisecond}
		if !slices.Equal(got, want) {
			t.Errorf("tickets issued at %v, want %v: the slots granted", got, want)
		}
	})
}

// At a rate whose slots are not a whole number of milliseconds apart
// (7000 RPM: 117 a second, slots 8 ms apart), limiters sharing a quota
// keep to the store's slots: they do not fall behind them, by their own
// spacing of 8.55 ms, onto the slots of the other limiter.
func TestSharedTicketsKeepToTheirSlotsAtAnUnevenRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := ratellmiter.NewMonitor()
		defer m.Stop()
		c := storetest.Contention{RPM: 7000, Goroutines: 8, Duration: 30 * time.Second, Dir: t.TempDir()}
		start := time.Now()
		var issued []int64
		for _, r := range hammerAll(sharedLimiters(t, m, ratellmiter.NewMemoryStore(), 2, c.RPM), c, start) {
			issued = append(issued, r.Issued...)
		}
		slices.Sort(issued)
		near := 0
		for i := 1; i < len(issued); i++ {
			if issued[i]-issued[i-1] < int64(4*time.Millisecond) {
				near++
			}
		}
		if near > 0 {
			t.Errorf("%d pairs of tickets less than 4 ms apart, of %d; the slots are 8 ms apart", near, len(issued))
		}
	})
}
