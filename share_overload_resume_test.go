package ratellmiter

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pause of overloads alone says nothing of the rate, on a shared quota
// as on one limiter: a limiter that learned of the pause, and of its
// resume, from the store keeps its limit at a rate limit soon after the
// resume, and so does the quota. A rate limit that another limiter saw in
// the overloads' pause makes it a pause for the rate, whichever limiter
// sees the next one.
func TestARateLimitSoonAfterASharedPauseOfOverloadsAloneKeepsTheLimit(t *testing.T) {
	cases := []struct {
		name       string
		rateInside bool // p1 is rate limited during p0's pause of overloads
		next       int  // the limiter rate limited soon after the resume
		want       int
	}{
		{"overloads alone, then a rate limit on the other", false, 1, 1200},
		{"overloads alone, then a rate limit on the one overloaded", false, 0, 1200},
		{"a rate limit in the pause, then one on its limiter", true, 1, 600},
		{"a rate limit in the pause, then one on the other", true, 0, 600},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ls := sharedLimiters(t, NewMemoryStore(), FallbackLocal, 2, 1200,
					WithService(newScriptedService(openAnswer)))
				time.Sleep(2 * time.Second) // both have synced
				a, err := ls[0].Acquire(context.Background())
				require.NoError(t, err)
				b, err := ls[1].Acquire(context.Background())
				require.NoError(t, err)
				refuse(t, a, true) // a 529: the quota pauses
				time.Sleep(500 * time.Millisecond)
				require.True(t, ls[1].Stats().Paused, "p1 paused by the store")
				if tc.rateInside {
					refuse(t, b, false)
				} else {
					b.Done()
				}
				time.Sleep(2 * time.Second) // the probe resumes the quota
				for i, l := range ls {
					require.False(t, l.Stats().Paused, "p%d resumed", i)
					require.Equal(t, 1200, l.RPM(), "p%d: a pause's refusals alone teach nothing", i)
				}

				time.Sleep(5 * time.Second) // well within the minute
				c, err := ls[tc.next].Acquire(context.Background())
				require.NoError(t, err)
				refuse(t, c, false) // a 429
				time.Sleep(2 * time.Second)
				for i, l := range ls {
					assert.False(t, l.Stats().Paused, "p%d resumed", i)
					assert.EqualValues(t, 2, l.Stats().Pauses, "p%d", i)
					assert.Equal(t, tc.want, l.RPM(), "p%d", i)
				}
			})
		})
	}
}

// refuse reports on tk that the server refused its call, for its load
// (overloaded) or for the rate, from a caller that will not retry.
func refuse(t *testing.T, tk *Ticket, overloaded bool) {
	t.Helper()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, tk.waitRetry(gone, 0, overloaded), "the caller gave up its retry")
}
