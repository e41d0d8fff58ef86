package ratellmiter

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// A mixed workload, prompts of 100 to 20,000 tokens, a third of them
// streamed, keeps to the server's tokens per minute without a 429 and
// takes about as long as its tokens need at that rate.
func TestTransportMixedWorkloadKeepsTheTokenBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const tpm = 200_000
		s := tpProvider(t, fakeprovider.Config{RPM: 6000, TPM: tpm, LatencyMedian: 2 * time.Second, Seed: 3})
		l := newLimiter(t, 6000, WithTokensPerMinute(tpm))
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		rng := rand.New(rand.NewPCG(1, 2))
		type call struct {
			prompt string
			max    int64
			stream bool
		}
		const n = 80
		calls := make([]call, n)
		for i := range calls {
			tokens := 100 + rng.IntN(19_901)
			calls[i] = call{strings.Repeat("abc ", tokens), int64(200 + rng.IntN(1800)), i%3 == 0}
		}
		var next atomic.Int64
		start := time.Now()
		errs := runParallel(16, n, func() error {
			c := calls[next.Add(1)-1]
			params := tpChat("gpt-4o-mini")
			params.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage(c.prompt)}
			params.MaxCompletionTokens = openai.Int(c.max)
			if !c.stream {
				_, err := client.Chat.Completions.New(context.Background(), params)
				return err
			}
			params.StreamOptions.IncludeUsage = openai.Bool(true)
			st := client.Chat.Completions.NewStreaming(context.Background(), params)
			for st.Next() {
			}
			if err := st.Err(); err != nil {
				return err
			}
			return st.Close()
		})
		elapsed := time.Since(start)
		require.Empty(t, errs)
		st := s.Stats()
		assert.Equal(t, n, st.Accepted)
		assert.Zero(t, st.Rejected429)
		ideal := time.Duration(float64(st.Tokens) / tpm * float64(time.Minute))
		t.Logf("tokens %d, ideal %v, took %v", st.Tokens, ideal, elapsed)
		assert.Less(t, elapsed, ideal+ideal/5+10*time.Second, "not needlessly slow")
		assertSettled(t, l, n)
	})
}

// Calls whose max_completion_tokens is far above what their answers use
// go out at the request rate with a minute's bank (WithTokenBurst), as the
// provider, whose token bucket holds a minute and charges the cap up front,
// admits them; with the default second's bank they go out about one a
// second.
func TestTransportTokenBurstMatchesAProviderThatBanksAMinute(t *testing.T) {
	run := func(t *testing.T, opts ...Option) (time.Duration, fakeprovider.Stats) {
		const tpm, n = 200_000, 200
		s := tpProvider(t, fakeprovider.Config{RPM: 3000, TPM: tpm, LatencyMedian: 300 * time.Millisecond, ReplyTokens: 300, Seed: 4})
		l := newLimiter(t, 3000, append([]Option{WithTokensPerMinute(tpm)}, opts...)...)
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		start := time.Now()
		errs := runParallel(50, n, func() error {
			params := tpChat("gpt-4o-mini")
			params.MaxCompletionTokens = openai.Int(4000)
			_, err := client.Chat.Completions.New(context.Background(), params)
			return err
		})
		require.Empty(t, errs)
		assertSettled(t, l, n)
		return time.Since(start), s.Stats()
	}
	var second, minute time.Duration
	synctest.Test(t, func(t *testing.T) {
		var st fakeprovider.Stats
		second, st = run(t)
		assert.Zero(t, st.Rejected429)
	})
	synctest.Test(t, func(t *testing.T) {
		var st fakeprovider.Stats
		minute, st = run(t, WithTokenBurst(time.Minute))
		assert.Zero(t, st.Rejected429, "the provider's minute bucket holds what the limiter banks")
	})
	t.Logf("a second's bank: %v; a minute's: %v", second, minute)
	assert.Less(t, minute, 6*time.Second, "200 requests at 3,000 RPM need 4 s, plus the last answers")
	assert.Greater(t, second, 4*minute)
}
