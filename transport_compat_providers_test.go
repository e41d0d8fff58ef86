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

// compatAnswer is a chat completion as OpenAI-compatible servers send it.
const compatAnswer = `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`

// compatServer starts a real server on 127.0.0.1 that answers with h, and
// returns its URL and a transport that keeps no idle connection, which
// would hold virtual time.
func compatServer(t *testing.T, h http.HandlerFunc) (string, *http.Transport) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &http.Transport{DisableKeepAlives: true}
}

// OpenAI-compatible providers send rate-limit headers of their own names
// and formats: OpenRouter's X-RateLimit-Reset is a Unix time in
// milliseconds, Together's x-ratelimit-reset a number of seconds (the
// names OpenRouter gives other windows), Cerebras' carry the window in
// their names and reset in seconds, Mistral's count tokens. The transport
// reads none of them: answers that say nothing remains in each hold no
// ticket, lower no limit and show no server budget.
func TestTransportHoldsNothingOnTheRateLimitHeadersItLeavesUnread(t *testing.T) {
	soon := strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10)
	cases := map[string]map[string]string{
		"OpenRouter": {"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": soon},
		"Together": {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2",
			"x-tokenlimit-limit": "1000", "x-tokenlimit-remaining": "0"},
		"Cerebras": {"x-ratelimit-limit-requests-day": "14400", "x-ratelimit-remaining-requests-day": "0", "x-ratelimit-reset-requests-day": "33011.382867",
			"x-ratelimit-limit-tokens-minute": "60000", "x-ratelimit-remaining-tokens-minute": "0", "x-ratelimit-reset-tokens-minute": "11.382867"},
		"Mistral": {"ratelimitbysize-limit": "500000", "ratelimitbysize-remaining": "0", "ratelimitbysize-reset": "23",
			"x-ratelimitbysize-limit-minute": "500000", "x-ratelimitbysize-remaining-minute": "0"},
		"Fireworks": {"x-ratelimit-limit-tokens-prompt": "60000", "x-ratelimit-remaining-tokens-prompt": "0",
			"x-ratelimit-limit-tokens-generated": "600", "x-ratelimit-remaining-tokens-generated": "0", "x-ratelimit-over-limit": "yes"},
	}
	for provider, headers := range cases {
		t.Run(provider, func(t *testing.T) {
			url, base := compatServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, compatAnswer)
			})
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600)
				client := tpOpenAI(url, tpTransport(t, base, WithLimiter(l)))
				start := time.Now()
				for range 20 {
					_, err := client.Chat.Completions.New(context.Background(), tpChat("m"))
					require.NoError(t, err)
				}
				// 20 tickets at 600 RPM, ten a second.
				assert.Less(t, time.Since(start), 3*time.Second, "paced at the configured rate, never held")
				st := l.Stats()
				assert.Equal(t, 600, st.RPM)
				assert.Zero(t, st.HeldUntil)
				assert.Zero(t, st.Server, "no budget read")
				assertSettled(t, l, 20)
			})
		})
	}
}

// The refusals of OpenAI-compatible providers come in shapes of their
// own: OpenRouter's error code is a number, Mistral's and Cerebras' bodies
// have no "error" object, a proxy's may be plain text, and llama.cpp's
// server answers 503 while it loads its model. A 429, or a 503 that says
// when to retry, pauses the limiter and the request goes again once the
// pause is over; a 503 without a hint (Ollama's "server busy", DeepSeek's
// overload) is handed on, as any server error.
func TestTransportPausesAndResumesOnTheRefusalsOfOpenAICompatibleProviders(t *testing.T) {
	type refusal struct {
		status  int
		headers map[string]string
		body    string
		retried bool
	}
	cases := map[string]refusal{
		"OpenRouter": {429, map[string]string{"X-RateLimit-Limit": "20", "X-RateLimit-Remaining": "0"},
			`{"error":{"message":"Rate limit exceeded: free-models-per-min.","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"20","X-RateLimit-Remaining":"0"}}},"user_id":"u"}`, true},
		"Mistral":  {429, nil, `{"message":"Requests rate limit exceeded"}`, true},
		"Cerebras": {429, nil, `{"message":"Requests per minute limit exceeded - too many requests sent.","type":"too_many_requests_error","param":"quota","code":"request_quota_exceeded"}`, true},
		"Together": {429, map[string]string{"x-ratelimit-reset": "2"},
			`{"id":"x","error":{"message":"rate limited","type":"dynamic_request_limited","param":null,"code":null}}`, true},
		"plain text":              {429, map[string]string{"Content-Type": "text/plain"}, "Too Many Requests", true},
		"llama.cpp loading model": {503, map[string]string{"Retry-After": "1"}, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`, true},
		"Ollama server busy":      {503, nil, `{"error":{"message":"server busy, please try again.  maximum pending requests exceeded","type":"api_error","param":null,"code":null}}`, false},
	}
	for provider, c := range cases {
		t.Run(provider, func(t *testing.T) {
			var calls atomic.Int32
			url, base := compatServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if calls.Add(1) == 1 {
					for k, v := range c.headers {
						w.Header().Set(k, v)
					}
					w.WriteHeader(c.status)
					_, _ = io.WriteString(w, c.body)
					return
				}
				_, _ = io.WriteString(w, compatAnswer)
			})
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600)
				client := tpOpenAI(url, tpTransport(t, base, WithLimiter(l)))
				_, err := client.Chat.Completions.New(context.Background(), tpChat("m"))
				st := l.Stats()
				if !c.retried {
					var oe *openai.Error
					require.ErrorAs(t, err, &oe)
					assert.Equal(t, c.status, oe.StatusCode)
					assert.EqualValues(t, 1, calls.Load(), "handed on")
					assert.Zero(t, st.Pauses)
					assertSettled(t, l, 1)
					return
				}
				require.NoError(t, err)
				assert.EqualValues(t, 2, calls.Load(), "sent again once")
				assert.EqualValues(t, 1, st.Pauses)
				assert.False(t, st.Paused, "resumed")
				assertSettled(t, l, 1)
			})
		})
	}
}

// The streams of OpenAI-compatible servers, through the SDK over HTTP/2:
// OpenRouter sends comment lines while it waits for its upstream and
// extra members in its usage, DeepSeek keep-alive comments, vLLM (asked
// for continuous usage) a running usage in every chunk, llama.cpp its
// timings beside the usage, and some server no "data: [DONE]". Each
// ticket ends when its stream does, and its charge is corrected to the
// usage of the last chunk.
func TestTransportReadsTheUsageOfOpenAICompatibleStreams(t *testing.T) {
	chunk := func(extra string) string {
		return `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]` + extra + "}\n\n"
	}
	last := func(usage string) string {
		return `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":` + usage + "}\n\n"
	}
	const usage = `{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}`
	cases := map[string]string{
		"OpenRouter": ": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n" + chunk("") +
			last(`{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"cost":0.000123,"is_byok":false,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}`) + "data: [DONE]\n\n",
		"DeepSeek": ": keep-alive\n\n" + chunk(`,"usage":null`) + ": keep-alive\n\n" +
			last(`{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":10}`) + "data: [DONE]\n\n",
		"vLLM continuous usage": chunk(`,"usage":{"prompt_tokens":10,"completion_tokens":1,"total_tokens":11}`) +
			chunk(`,"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}`) + last(usage) + "data: [DONE]\n\n",
		"llama.cpp": chunk("") + last(`{"completion_tokens":5,"prompt_tokens":10,"total_tokens":15},"timings":{"prompt_n":10,"prompt_ms":1.5,"predicted_n":5,"predicted_ms":2.5}`) + "data: [DONE]\n\n",
		"no [DONE]": chunk("") + last(usage),
	}
	for provider, events := range cases {
		t.Run(provider, func(t *testing.T) {
			srv, base := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, events)
			})
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600, WithTokensPerMinute(60_000), WithTokenBurst(time.Minute))
				client := tpOpenAI(srv.URL, tpTransport(t, base, WithLimiter(l)))
				params := tpChat("m")
				params.MaxCompletionTokens = openai.Int(1000)
				stream := client.Chat.Completions.NewStreaming(context.Background(), params)
				var acc openai.ChatCompletionAccumulator
				for stream.Next() {
					acc.AddChunk(stream.Current())
				}
				require.NoError(t, stream.Err())
				require.NoError(t, stream.Close())
				require.NotEmpty(t, acc.Choices)
				assert.Contains(t, acc.Choices[0].Message.Content, "hi", "the stream read to its end")
				assertSettled(t, l, 1)
				assert.InDelta(t, 60_000-15, tokenLevel(l), 1, "charged the 15 tokens of the usage, not the estimate of over 1,000")
			})
		})
	}
}
