package main

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/genai"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// Do reads the genai.APIError of a refused call as it reads the errors of
// the OpenAI and Anthropic SDKs: a per-minute 429 RESOURCE_EXHAUSTED is
// retried when its RetryInfo's retryDelay is over, a per-day one fails at
// once with ErrQuotaExhausted naming the quota, and a 503 UNAVAILABLE is
// an overload, retried. The SDK's client sends
// through a plain transport: Do alone paces the calls.
func TestDoReadsTheAPIErrorOfGooglesSDK(t *testing.T) {
	const unavailable = `{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`
	for _, tc := range []struct {
		name      string
		status    int
		body      []byte
		wantCalls int32
		wantWait  time.Duration // 0: not checked
		wantQuota string        // "": the retry succeeds
	}{
		{"per-minute 429", http.StatusTooManyRequests, retryInfo429(2 * time.Second), 2, 2 * time.Second, ""},
		{"per-day 429", http.StatusTooManyRequests, []byte(perDay429), 1, 0, "GenerateRequestsPerDayPerProjectPerModel-FreeTier"},
		{"503 UNAVAILABLE", http.StatusServiceUnavailable, []byte(unavailable), 2, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := refusingServer(t, tc.status, nil, tc.body)
			base := exampletest.NoKeepAlive(t, nil)
			synctest.Test(t, func(t *testing.T) {
				l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
				require.NoError(t, err)
				c := newClient(t, srv.URL, base)
				start := time.Now()
				res, err := ratellmiter.Do(context.Background(), l, func(ctx context.Context) (*genai.GenerateContentResponse, error) {
					return c.Models.GenerateContent(ctx, flash, hello, nil)
				})
				assert.Equal(t, tc.wantCalls, calls.Load(), "calls sent")
				st := l.Stats()
				if tc.wantQuota != "" {
					require.ErrorIs(t, err, ratellmiter.ErrQuotaExhausted)
					var qe *ratellmiter.QuotaError
					require.True(t, errors.As(err, &qe))
					assert.Equal(t, tc.wantQuota, qe.Quota)
					assert.Zero(t, st.Pauses, "a used-up daily quota pauses nothing")
					return
				}
				require.NoError(t, err)
				assert.Equal(t, "Hello.", res.Text())
				assert.EqualValues(t, 1, st.Pauses)
				if tc.wantWait > 0 {
					assert.Equal(t, tc.wantWait, time.Since(start), "retried when the retryDelay is over")
				}
			})
		})
	}
}
