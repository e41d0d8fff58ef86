package ratellmiter

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// A request larger than the server's whole token limit is refused with a
// 429 that no wait can cure: the transport hands it on at once, without
// pausing the limiter for every other caller or sending it again.
func TestTransportRequestTooLargeForTheServersLimitIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600, TPM: 1000})
		l := newLimiter(t, 600) // no token budget: the server alone knows
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		params := tpChat("gpt-4o-mini")
		params.MaxCompletionTokens = openai.Int(5000)

		_, err := client.Chat.Completions.New(context.Background(), params)
		var oe *openai.Error
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, http.StatusTooManyRequests, oe.StatusCode)
		assert.Contains(t, oe.Message, "Request too large")
		assert.Equal(t, 1, s.Stats().Requests, "sent once")
		st := l.Stats()
		assert.False(t, st.Paused, "the limiter goes on for the other callers")
		assert.Zero(t, st.RateLimited)
		assertSettled(t, l, 1)

		// Nor does Do retry the SDK's error for it.
		plain := tpOpenAI(fakeURL, s.Transport())
		_, err = Do(context.Background(), l, func(ctx context.Context) (*openai.ChatCompletion, error) {
			return plain.Chat.Completions.New(ctx, params)
		})
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, 2, s.Stats().Requests)
		assert.False(t, l.Stats().Paused)
	})
}
