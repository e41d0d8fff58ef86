package ratellmiter

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countTokensServer starts a real server on 127.0.0.1 that answers the
// token-counting endpoints of Anthropic, OpenAI and Gemini as they do,
// with a count and no usage, and records the paths it was asked.
func countTokensServer(t *testing.T) (*httptest.Server, func() []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		paths []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/messages/count_tokens":
			_, _ = io.WriteString(w, `{"input_tokens":4010}`)
		case r.URL.Path == "/v1/responses/input_tokens":
			_, _ = io.WriteString(w, `{"object":"response.input_tokens","input_tokens":4010}`)
		case strings.HasSuffix(r.URL.Path, ":countTokens"):
			_, _ = io.WriteString(w, `{"totalTokens":4010}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), paths...)
	}
}

// Counting a prompt's tokens runs no model, and the providers do not
// count it against their token limits (Anthropic's count_tokens, OpenAI's
// responses/input_tokens, Gemini's countTokens): a program that counts
// before it sends must not be charged the prompt twice, nor be refused a
// count for a prompt larger than a minute's budget.
func TestTransportCountingTokensChargesNoTokens(t *testing.T) {
	long := strings.Repeat("word ", 3200) // 16,000 bytes: about 4,000 tokens
	srv, paths := countTokensServer(t)
	calls := map[string]func(ctx context.Context, rt http.RoundTripper) error{
		"anthropic count_tokens": func(ctx context.Context, rt http.RoundTripper) error {
			c := tpAnthropic(srv.URL, rt)
			_, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{
				Model:    anthropic.ModelClaudeHaiku4_5,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(long))},
			})
			return err
		},
		"openai input_tokens": func(ctx context.Context, rt http.RoundTripper) error {
			c := tpOpenAI(srv.URL, rt)
			_, err := c.Responses.InputTokens.Count(ctx, responses.InputTokenCountParams{
				Model: openai.String("gpt-4o-mini"),
				Input: responses.InputTokenCountParamsInputUnion{OfString: openai.String(long)},
			})
			return err
		},
		"gemini countTokens": func(ctx context.Context, rt http.RoundTripper) error {
			body := `{"contents":[{"role":"user","parts":[{"text":"` + long + `"}]}]}`
			return postJSON(ctx, rt, srv.URL+"/v1beta/models/gemini-2.5-flash:countTokens", body, nil)
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			base := &http.Transport{}
			defer base.CloseIdleConnections()
			// 60,000 tokens a minute banks 1,000, which the count
			// would put 3,000 in debt; under 3,000 a minute the prompt
			// alone is more than a minute's budget, which would refuse
			// the count without sending it.
			for _, tpm := range []int{60000, 3000} {
				synctest.Test(t, func(t *testing.T) {
					defer base.CloseIdleConnections()
					l := newLimiter(t, 600, WithTokensPerMinute(tpm), WithInputTokensPerMinute(tpm))
					before := len(paths())
					require.NoError(t, call(context.Background(), tpTransport(t, base, WithLimiter(l))))
					assert.Len(t, paths(), before+1, "the count reached the server")
					assertSettled(t, l, 1)
					base.CloseIdleConnections() // lets virtual time pass
					time.Sleep(time.Second)     // the next ticket's slot
					tk, ok := l.TryAcquire(WithTokens(tpm/60-10, 0))
					require.True(t, ok, "the count was charged no tokens")
					tk.Done()
				})
			}
		})
	}
}

// postJSON POSTs the JSON body to url through rt, with the header's
// fields besides, and reads the answer to its end.
func postJSON(ctx context.Context, rt http.RoundTripper, url, body string, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}
