package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Azure OpenAI says when to retry a refused request in its message,
// "Please retry after 7 seconds.", and at times without a Retry-After
// header: the limiter then pauses for those seconds, so that the call is
// sent again once, when the server admits it, rather than probed after
// 1 s, 2.5 s and 4.75 s into three more 429s.
func TestTransportPausesForAzuresRetryAfterSecondsInItsMessage(t *testing.T) {
	const window = 7 * time.Second
	var hits, refused atomic.Int32
	var opens atomic.Int64 // when the server admits requests again
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hits.Add(1)
		now, _ := strconv.ParseInt(r.Header.Get("X-Test-Now"), 10, 64)
		opens.CompareAndSwap(0, now+int64(window))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-ratelimit-remaining-requests", "0")
		if now < opens.Load() {
			refused.Add(1)
			secs := (time.Duration(opens.Load()-now) + time.Second - 1) / time.Second
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after `+strconv.Itoa(int(secs))+` seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	base := srv.Client().Transport.(*http.Transport).Clone()
	// No idle connection holds virtual time, nor an HTTP/2 connection's
	// reader.
	base.DisableKeepAlives = true
	base.Protocols = new(http.Protocols)
	base.Protocols.SetHTTP1(true)
	base.TLSClientConfig.NextProtos = []string{"http/1.1"}
	t.Cleanup(base.CloseIdleConnections)
	synctest.Test(t, func(t *testing.T) {
		// The server runs outside the bubble: each request tells it the
		// bubble's time.
		stamped := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r.Header.Set("X-Test-Now", strconv.FormatInt(time.Now().UnixNano(), 10))
			return base.RoundTrip(r)
		})
		l := newLimiter(t, 600)
		client := tpOpenAI(srv.URL+"/openai", tpTransport(t, stamped, WithLimiter(l)))
		start := time.Now()
		res, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		require.NoError(t, err)
		assert.Equal(t, "hi", res.Choices[0].Message.Content)
		assert.Equal(t, window, time.Since(start), "sent again when the server said")
		assert.EqualValues(t, 1, refused.Load(), "one 429")
		assert.EqualValues(t, 2, hits.Load())
		st := l.Stats()
		assert.EqualValues(t, 1, st.RateLimited)
		assert.Equal(t, window, st.PausedTime)
	})
}
