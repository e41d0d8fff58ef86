package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// refusingServer returns a server on 127.0.0.1 that answers its first
// request with status and body, and every later one with a chat
// completion, and the count of requests it was sent.
func refusingServer(t *testing.T, status int, contentType, body string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, completion)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

const completion = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`

// Do reads the errors of github.com/sashabaranov/go-openai as it reads
// those of the official SDKs: a 429 is a rate limit whether go-openai
// decoded its body (an *APIError) or not (a *RequestError), retried when
// the hint of its message is over; an exhausted quota fails at once with
// ErrQuotaExhausted. The client sends through a plain transport: Do alone
// paces the calls.
func TestDoReadsTheErrorsOfGoOpenAI(t *testing.T) {
	const json = "application/json"
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		wantCalls   int32
		wantWait    time.Duration // 0: not checked
		wantQuota   bool
	}{
		{"429 with a hint", http.StatusTooManyRequests, json,
			`{"error":{"message":"Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 2s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			2, 2 * time.Second, false},
		{"429 in plain text", http.StatusTooManyRequests, "text/plain", "Too Many Requests", 2, 0, false},
		{"insufficient quota", http.StatusTooManyRequests, json,
			`{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := refusingServer(t, tc.status, tc.contentType, tc.body)
			base := exampletest.NoKeepAlive(t, nil)
			synctest.Test(t, func(t *testing.T) {
				l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
				require.NoError(t, err)
				c := newClient(srv.URL+"/v1", base)
				start := time.Now()
				res, err := ratellmiter.Do(context.Background(), l, func(ctx context.Context) (openai.ChatCompletionResponse, error) {
					return c.CreateChatCompletion(ctx, hello)
				})
				assert.Equal(t, tc.wantCalls, calls.Load(), "calls sent")
				st := l.Stats()
				if tc.wantQuota {
					require.ErrorIs(t, err, ratellmiter.ErrQuotaExhausted)
					var apiErr *openai.APIError
					require.True(t, errors.As(err, &apiErr), "the SDK's error is kept: %v", err)
					assert.Zero(t, st.Pauses, "a used-up quota pauses nothing")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, "Hello.", res.Choices[0].Message.Content)
				assert.EqualValues(t, 1, st.Pauses)
				if tc.wantWait > 0 {
					assert.Equal(t, tc.wantWait, time.Since(start), "retried when the hint is over")
				}
			})
		})
	}
}
