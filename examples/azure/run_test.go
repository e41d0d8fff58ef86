package main

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/exampletest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example, its limiters at twice the fake endpoint's quotas (as when
// a deployment's quota was lowered), learns each deployment's real limit
// from a few of Azure's 429s, which the transport absorbs: every call
// succeeds, once, and no 429 reaches the SDK.
func TestRunAbsorbsThe429sOfItsFake(t *testing.T) {
	var clock exampletest.VirtualClock
	fake := startFake(t, clock.Now, map[string][2]int{mini: {miniRPM / 2, miniTPM}, big: {bigRPM / 2, bigTPM}})
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		const n = 120
		start := time.Now()
		sum, err := run(config{n: n, workers: 10, fake: fake, base: clock.Stamped(base), out: &out})
		require.NoError(t, err, out.String())
		t.Log("\n" + out.String())
		assert.Empty(t, sum.failed)
		assert.Zero(t, sum.caller429, "no 429 reaches the caller")
		assert.Equal(t, len(reply), sum.chunks)
		assert.EqualValues(t, promptTokens+outputTokens, sum.usage.TotalTokens)

		fs := sum.server
		assert.Equal(t, n+1, fs.Accepted, "each call accepted once")
		assert.Equal(t, n/2, fake.Accepted(mini))
		assert.Equal(t, n/2+1, fake.Accepted(big), "and the stream")
		assert.Positive(t, fs.Rejected429, "the limiters start above the endpoint's limits")
		var limited uint64
		for _, st := range sum.stats {
			limited += st.RateLimited
			assert.Zero(t, st.InFlight)
		}
		assert.EqualValues(t, fs.Rejected429, limited, "every 429 seen by a limiter")
		assert.LessOrEqual(t, fs.Rejected429, 20)
		assert.Equal(t, bigRPM/2, sum.stats[big].LearnedRPM, "the learned limit is the endpoint's")
		// The endpoint admits 10 calls to gpt-4o a 10-second window: its
		// 60 take 50 s at least.
		assert.GreaterOrEqual(t, time.Since(start), 50*time.Second)
		assert.Less(t, time.Since(start), 80*time.Second)
		assert.Contains(t, out.String(), "121 accepted")
	})
}
