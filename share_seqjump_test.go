package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A limiter restarted with the same process id on a host whose clock is
// behind its predecessor's numbers its requests below the predecessor's
// last one: the store tells it so, and it numbers on from there, instead
// of being granted nothing for the hour the store remembers that number.
// The predecessor's clock being a minute ahead is made by raising its
// numbering by a minute in microseconds once it synced, as a clock a
// minute ahead would have numbered it from its creation.
func TestSharedSeqBelowPredecessorsJumpsAbove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		ctx := context.Background()
		old := quotaLimiter(t, m, mem, "pod-0", 600, nil)
		tk, err := old.Acquire(ctx)
		require.NoError(t, err)
		tk.Done()
		time.Sleep(time.Second)
		old.lock()
		old.sh.seq += uint64(time.Minute / time.Microsecond)
		old.mu.Unlock()
		time.Sleep(time.Second) // a heartbeat numbered as the clock ahead would have
		old.Close()
		time.Sleep(100 * time.Millisecond) // the final sync, numbered so too

		next := quotaLimiter(t, m, mem, "pod-0", 600, nil)
		other := quotaLimiter(t, m, mem, "pod-1", 600, nil)
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for range 5 {
			tk, err := next.Acquire(actx)
			require.NoError(t, err, "the restarted limiter issues no ticket")
			tk.Done()
		}
		assert.Less(t, time.Since(start), 2*time.Second)
		// Its rate limit is told to the store, and pauses the other.
		tk, err = next.Acquire(actx)
		require.NoError(t, err)
		rctx, stop := context.WithCancel(ctx)
		go tk.RateLimited(rctx, 30*time.Second) //nolint:errcheck // ended by stop
		defer stop()
		time.Sleep(time.Second)
		assert.True(t, other.Stats().Paused, "a rate limit seen by the restarted limiter is not shared")
		rep, err := mem.Sync(ctx, "quota", SyncRequest{ID: "watch", Now: time.Now().UnixNano(), Sec: time.Now().Unix(), LiveTTL: liveTTL})
		require.NoError(t, err)
		assert.GreaterOrEqual(t, rep.Window, 1+6, "the restarted limiter's tickets are counted")
	})
}

// The restarted limiter's first request, numbered below its predecessor's
// last, loses its reply: it falls back, and what it did meanwhile (tickets
// issued, a rate limit) is told once it numbers above the predecessor.
func TestSharedSeqBelowPredecessorsAfterALostReply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := NewMemoryStore()
		lossy := &lossyStore{MemoryStore: mem} // for the restarted limiter only
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		ctx := context.Background()
		old := quotaLimiter(t, m, mem, "pod-0", 600, nil)
		time.Sleep(time.Second)
		old.lock()
		old.sh.seq += uint64(time.Minute / time.Microsecond)
		old.mu.Unlock()
		time.Sleep(time.Second)
		old.Close()
		time.Sleep(100 * time.Millisecond)

		other := quotaLimiter(t, m, mem, "pod-1", 600, nil)
		time.Sleep(100 * time.Millisecond)
		lossy.lose.Store(2) // its first request, and that request sent again
		next := quotaLimiter(t, m, lossy, "pod-0", 600, []StoreOption{WithExpectedProcesses(2)})
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		tk, err := next.Acquire(actx) // from the fallback
		require.NoError(t, err)
		rctx, stop := context.WithCancel(ctx)
		go tk.RateLimited(rctx, 30*time.Second) //nolint:errcheck // ended by stop
		defer stop()
		time.Sleep(2 * time.Second)
		assert.True(t, other.Stats().Paused, "a rate limit seen by the restarted limiter is not shared")
		rep, err := mem.Sync(ctx, "quota", SyncRequest{ID: "watch", Now: time.Now().UnixNano(), Sec: time.Now().Unix(), LiveTTL: liveTTL})
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Window, "the ticket issued from the fallback is counted once")
		assert.True(t, rep.Paused)
	})
}

// What a request not applied for its numbering told is told again, as
// news, by the next request, numbered above the store's last; a store
// that does not tell LastSeq, or tells the request's own (it ran twice),
// leaves the limiter as it was.
func TestSharedOvertakenTellsItsNewsAgain(t *testing.T) {
	s := newShared(shareConfig{}, 0)
	s.seq = 6
	s.used = []SecondCount{{Sec: 10, N: 1}}
	s.events = []QuotaEvent{{Kind: QuotaResumed}}
	s.unacked = &sentNews{seq: 4}
	req := SyncRequest{Seq: 6, Retry: 4, WantProbe: true,
		Used:     []SecondCount{{Sec: 10, N: 2}, {Sec: 9, N: 1}},
		Returned: []SecondCount{{Sec: 10, N: 3}},
		Events:   []QuotaEvent{{Kind: QuotaRefused, ProbeAt: 7}}}
	for _, last := range []uint64{0, 6} {
		assert.False(t, s.overtaken(nil, req, SyncReply{LastSeq: last}), "LastSeq %d", last)
		assert.Equal(t, uint64(6), s.seq)
		assert.NotNil(t, s.unacked)
	}
	s.probeAsked = 5
	require.True(t, s.overtaken(nil, req, SyncReply{LastSeq: 100}))
	assert.GreaterOrEqual(t, s.seq, uint64(100), "the next request is numbered above 100")
	assert.Less(t, s.seq, uint64(100+1<<20), "by a random step")
	assert.Nil(t, s.unacked, "nothing of the request sent again was applied: told as news")
	assert.Equal(t, []SecondCount{{Sec: 10, N: 3}, {Sec: 9, N: 1}}, s.used)
	assert.Equal(t, []SecondCount{{Sec: 10, N: 3}}, s.returned)
	assert.Equal(t, []QuotaEvent{{Kind: QuotaRefused, ProbeAt: 7}, {Kind: QuotaResumed}}, s.events)
	assert.Zero(t, s.probeAsked, "the probe lease is asked for again at once")
}
