package fakeprovider

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTokenBucketAdmitsWhatItClaims drives random arrival schedules from
// several concurrent clients through the server inside a synctest bubble and
// checks that no window admits more than the bucket allows: in any window of
// length T, at most capacity + rate*T requests.
func TestTokenBucketAdmitsWhatItClaims(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	rpms := []int{1, 30, 59, 60, 90, 120, 600, 1000, 3000, 6000}
	for range 6 {
		rpms = append(rpms, 1+rng.IntN(5000))
	}
	for _, rpm := range rpms {
		seed := rng.Uint64()
		t.Run(fmt.Sprintf("rpm=%d", rpm), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				checkBucketSchedule(t, rpm, seed)
			})
		})
	}
}

// checkBucketSchedule runs one random schedule against rpm.
func checkBucketSchedule(t *testing.T, rpm int, seed uint64) {
	s, err := New(Config{RPM: rpm})
	require.NoError(t, err)
	const clients = 3
	// Aim for about twice the allowed rate over 130 s, in bursts and gaps.
	duration := 130 * time.Second
	meanGap := time.Duration(float64(time.Minute) * clients / float64(2*rpm))
	maxRequests := 600
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			start := time.Now()
			for range maxRequests {
				switch r.IntN(4) {
				case 0: // burst: no gap
				case 1:
					time.Sleep(time.Duration(r.Int64N(int64(time.Millisecond))))
				default:
					time.Sleep(time.Duration(r.ExpFloat64() * float64(meanGap)))
				}
				if time.Since(start) > duration {
					return
				}
				w := post(s, "/v1/chat/completions", openAIBody)
				if w.Code != http.StatusOK && w.Code != http.StatusTooManyRequests {
					t.Errorf("unexpected status %d", w.Code)
				}
			}
		})
	}
	wg.Wait()

	capacity := max(float64(rpm)/60, 1)
	rate := float64(rpm) / 60
	st := s.Stats()
	require.Positive(t, st.Accepted)
	for _, window := range []time.Duration{100 * time.Millisecond, time.Second, 10 * time.Second, time.Minute} {
		bound := int(capacity + rate*window.Seconds())
		got := s.MaxInWindow(window)
		assert.LessOrEqual(t, got, bound, "window %v: %d admitted, bound %d", window, got, bound)
	}
	assert.Equal(t, st.Requests, st.Accepted+st.Rejected429)
}

// TestTokenBucketAdmitsWhatItAdvertises checks the other direction: a
// client that waits exactly Retry-After-Ms after each refusal gets the whole
// budget, capacity plus a minute's refill, within one millisecond's worth.
func TestTokenBucketAdmitsWhatItAdvertises(t *testing.T) {
	for _, rpm := range []int{60, 90, 600, 6000} {
		t.Run(fmt.Sprintf("rpm=%d", rpm), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, err := New(Config{RPM: rpm})
				require.NoError(t, err)
				end := time.Now().Add(time.Minute)
				for time.Now().Before(end) {
					w := post(s, "/v1/chat/completions", openAIBody)
					if w.Code == http.StatusOK {
						continue
					}
					ms, err := strconv.Atoi(w.Header().Get("Retry-After-Ms"))
					require.NoError(t, err)
					require.Positive(t, ms)
					time.Sleep(time.Duration(ms) * time.Millisecond)
				}
				want := int(max(float64(rpm)/60, 1) + float64(rpm))
				got := s.Stats().Accepted
				assert.LessOrEqual(t, got, want)
				assert.GreaterOrEqual(t, got, want-1-rpm/60000)
			})
		})
	}
}

func TestFixedSecondWindow(t *testing.T) {
	s, c := newTestServer(t, Config{RPM: 150, Window: FixedSecond}) // ceil(150/60) = 3 a second
	c.Advance(100 * time.Millisecond)
	for range 3 {
		require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	}
	w := post(s, "/v1/chat/completions", openAIBody)
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "900", w.Header().Get("Retry-After-Ms"))
	c.Advance(899 * time.Millisecond)
	require.Equal(t, http.StatusTooManyRequests, post(s, "/v1/chat/completions", openAIBody).Code)
	c.Advance(time.Millisecond)
	for range 3 {
		require.Equal(t, http.StatusOK, post(s, "/v1/chat/completions", openAIBody).Code)
	}
	require.Equal(t, http.StatusTooManyRequests, post(s, "/v1/chat/completions", openAIBody).Code)
	// A fixed window allows twice its quota across a second boundary.
	assert.Equal(t, 6, s.MaxInWindow(time.Second))
	assert.Equal(t, 3, s.MaxInWindow(900*time.Millisecond))
}

func TestBucketArithmetic(t *testing.T) {
	now := time.Unix(0, 0)
	b := newRequestBucket(90, now) // 1.5 requests, refilling 1.5 a second
	assert.Zero(t, b.wait(1))
	b.take(1)
	assert.Equal(t, time.Second/3+1, b.wait(1), "0.5 short at 1.5/s, rounded up to the nanosecond")
	b.refill(now.Add(time.Second/3 + 1))
	assert.Zero(t, b.wait(1))
	b.take(1)
	b.refill(now.Add(time.Hour))
	assert.EqualValues(t, 1, b.available())
	assert.Zero(t, b.deficit())
	assert.Zero(t, b.untilFull())

	tb := newBucket(1000, 1000, now)
	assert.True(t, tb.fits(1000))
	assert.False(t, tb.fits(1001))
	tb.take(600)
	tb.give(100)
	assert.EqualValues(t, 500, tb.available())
	assert.Equal(t, 30*time.Second, tb.untilFull())
}
