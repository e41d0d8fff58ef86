package ratellmiter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchServer starts a real server on 127.0.0.1 that answers the
// creation of a batch as Anthropic's Message Batches API and OpenAI's
// Batch API do: with the batch, queued, which reports no usage (OpenAI's
// reports none used yet). It counts the bytes of the bodies it reads.
func batchServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var read atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		read.Add(n)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/messages/batches":
			_, _ = io.WriteString(w, `{"id":"msgbatch_1","type":"message_batch","processing_status":"in_progress",`+
				`"request_counts":{"processing":40,"succeeded":0,"errored":0,"canceled":0,"expired":0},`+
				`"created_at":"2025-01-01T00:00:00Z","expires_at":"2025-01-02T00:00:00Z","ended_at":null,`+
				`"cancel_initiated_at":null,"archived_at":null,"results_url":null}`)
		case "/v1/batches":
			_, _ = io.WriteString(w, `{"id":"batch_1","object":"batch","endpoint":"/v1/chat/completions","input_file_id":"file-1",`+
				`"completion_window":"24h","status":"validating","created_at":1,"request_counts":{"total":0,"completed":0,"failed":0},`+
				`"usage":{"input_tokens":0,"output_tokens":0,"total_tokens":0,"input_tokens_details":{"cached_tokens":0},"output_tokens_details":{"reasoning_tokens":0}}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &read
}

// messageBatch returns the params of an Anthropic Message Batch of n
// requests, each with a prompt of about 1,000 tokens and max_tokens 4,000.
func messageBatch(n int) anthropic.MessageBatchNewParams {
	prompt := strings.Repeat("word ", 800)
	var p anthropic.MessageBatchNewParams
	for i := range n {
		p.Requests = append(p.Requests, anthropic.MessageBatchNewParamsRequest{
			CustomID: fmt.Sprint("req-", i),
			Params: anthropic.MessageBatchNewParamsRequestParams{
				Model:     anthropic.ModelClaudeHaiku4_5,
				MaxTokens: 4000,
				System:    []anthropic.TextBlockParam{{Text: prompt}},
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(prompt))},
			},
		})
	}
	return p
}

// A batch is run later, outside the per-minute limits (Anthropic gives
// the Message Batches API limits of its own, OpenAI a queue of enqueued
// tokens): creating one takes a ticket but no tokens, however many
// requests it holds, and its body, which names no model at its top
// (Anthropic takes up to 256 MB), is not read to route it: under
// WithServiceLimiters it goes to the default limiter whatever
// WithMaxBodyBytes says.
func TestTransportCreatesABatchUnderATicketWithoutTokens(t *testing.T) {
	srv, read := batchServer(t)
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	t.Run("charged no tokens", func(t *testing.T) {
		calls := map[string]func(ctx context.Context, rt http.RoundTripper) error{
			"anthropic": func(ctx context.Context, rt http.RoundTripper) error {
				c := tpAnthropic(srv.URL, rt)
				_, err := c.Messages.Batches.New(ctx, messageBatch(40))
				return err
			},
			"openai": func(ctx context.Context, rt http.RoundTripper) error {
				c := tpOpenAI(srv.URL, rt)
				_, err := c.Batches.New(ctx, openai.BatchNewParams{
					InputFileID:      "file-1",
					Endpoint:         openai.BatchNewParamsEndpointV1ChatCompletions,
					CompletionWindow: openai.BatchNewParamsCompletionWindow24h,
				})
				return err
			},
		}
		for name, call := range calls {
			synctest.Test(t, func(t *testing.T) {
				defer base.CloseIdleConnections()
				// The 40 requests hold about 80,000 input tokens and ask
				// for up to 160,000 output tokens: charged as a prompt,
				// the batch would be refused with ErrExceedsBudget.
				l := newLimiter(t, 600, WithTokensPerMinute(60000),
					WithInputTokensPerMinute(60000), WithOutputTokensPerMinute(60000))
				require.NoError(t, call(context.Background(), tpTransport(t, base, WithLimiter(l))), name)
				assertSettled(t, l, 1)
				base.CloseIdleConnections() // lets virtual time pass
				time.Sleep(time.Second)     // the next ticket's slot
				tk, ok := l.TryAcquire(WithTokens(495, 495))
				require.True(t, ok, "%s: the batch was charged no tokens", name)
				tk.Done()
			})
		}
	})

	t.Run("routed without reading it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			defer base.CloseIdleConnections()
			m := NewMonitor()
			t.Cleanup(func() { m.Stop() })
			svc := NewService("anthropic", nil)
			haiku, err := svc.NewLimiter(string(anthropic.ModelClaudeHaiku4_5), 600, WithMonitor(m))
			require.NoError(t, err)
			def, err := svc.NewLimiter("", 600, WithMonitor(m))
			require.NoError(t, err)
			// The batch's body is about 400 KB, eight times the most
			// the transport would buffer.
			tr := tpTransport(t, base, WithServiceLimiters(svc), WithMaxBodyBytes(50_000))
			before := read.Load()
			c := tpAnthropic(srv.URL, tr)
			_, err = c.Messages.Batches.New(context.Background(), messageBatch(40))
			require.NoError(t, err)
			assert.Greater(t, read.Load()-before, int64(300_000), "the whole batch reached the server")
			assertSettled(t, def, 1)
			assert.Zero(t, haiku.Stats().Requested, "the models inside the batch take no ticket")
		})
	})
}
