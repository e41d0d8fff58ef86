package ratellmiter

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pause of overloads alone says nothing of the rate: a rate limit soon
// after its resume is a first pause, which teaches nothing, as it would be
// after a quiet spell. A pause that began with an overload but had a rate
// limit in it is a pause for the rate, and one soon after it halves the
// limit.
func TestARateLimitSoonAfterAPauseOfOverloadsAloneKeepsTheLimit(t *testing.T) {
	cases := []struct {
		name     string
		statuses []int // each call's refusal, or 0: admitted
		want     int
	}{
		{"overloads, then a rate limit", []int{529, 0, http.StatusTooManyRequests, 0}, 1200},
		{"rate limits twice", []int{http.StatusTooManyRequests, 0, http.StatusTooManyRequests, 0}, 600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 1200)
				calls := 0
				for range 2 {
					_, err := Do(context.Background(), l, func(context.Context) (int, error) {
						s := tc.statuses[calls]
						calls++
						if s != 0 {
							return 0, &sdkLikeError{StatusCode: s}
						}
						return 1, nil
					})
					require.NoError(t, err, "refused, then admitted as the canary")
					time.Sleep(5 * time.Second)
				}
				assert.EqualValues(t, 2, l.Stats().Pauses)
				assert.Equal(t, tc.want, l.RPM())
			})
		})
	}

	t.Run("a rate limit came in the overloads' pause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, 1200)
			a, _ := l.Acquire(context.Background())
			b, _ := l.Acquire(context.Background())
			gone, cancel := context.WithCancel(context.Background())
			cancel()
			require.Error(t, a.waitRetry(gone, 0, true), "overloaded: paused")
			require.Error(t, b.waitRetry(gone, 0, false), "rate limited in the same pause")
			c, _ := l.Acquire(context.Background())
			c.Done() // the canary: resume
			require.False(t, l.Stats().Paused)
			require.Equal(t, 1200, l.RPM(), "nothing admitted after a refusal")

			time.Sleep(5 * time.Second)
			d, _ := l.Acquire(context.Background())
			require.Error(t, d.waitRetry(gone, 0, false), "paused again soon after")
			assert.Equal(t, 600, l.RPM())
		})
	})
}
