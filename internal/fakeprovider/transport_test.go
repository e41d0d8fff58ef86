package fakeprovider

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send posts body to path through the in-memory transport.
func send(ctx context.Context, s *Server, path, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://fake.invalid"+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return (&http.Client{Transport: s.Transport()}).Do(req)
}

func TestTransportSimulatesLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{RPM: 60, Latency: func(*rand.Rand) time.Duration { return 2 * time.Second }})
		require.NoError(t, err)
		start := time.Now()
		res, err := send(context.Background(), s, "/v1/chat/completions", openAIBody)
		require.NoError(t, err)
		defer res.Body.Close()
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "59", res.Header.Get("x-ratelimit-remaining-requests"))
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		assert.Contains(t, string(body), `"object":"chat.completion"`)
		assert.EqualValues(t, len(body), res.ContentLength)
	})
}

func TestLognormalLatency(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const median = 300 * time.Millisecond
	below := 0
	for range 2000 {
		d := lognormal(r, median)
		require.GreaterOrEqual(t, d, median/10)
		require.LessOrEqual(t, d, 10*median)
		if d < median {
			below++
		}
	}
	assert.InDelta(t, 1000, below, 100, "half the draws fall below the median")
}

func TestLatencyHonoursCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{RPM: 60, LatencyMedian: 300 * time.Millisecond})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = send(ctx, s, "/v1/messages", anthropicBody)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 10*time.Millisecond, time.Since(start))
		synctest.Wait()
		assert.Equal(t, Stats{Requests: 1, Accepted: 1}, s.Stats(), "the request was charged but produced no tokens")
	})
}

func TestTransportStreamsAndStopsWhenClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{RPM: 60, ReplyTokens: 1000})
		require.NoError(t, err)
		res, err := send(context.Background(), s, "/v1/messages", `{"model":"m","max_tokens":1000,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.Equal(t, "text/event-stream; charset=utf-8", res.Header.Get("content-type"))
		line, err := bufio.NewReader(res.Body).ReadString('\n')
		require.NoError(t, err)
		assert.Equal(t, "event: message_start\n", line)
		// Closing the body mid-stream must let the handler return; the
		// bubble would otherwise never finish.
		require.NoError(t, res.Body.Close())
		synctest.Wait()
	})
}

func TestTransportReportsRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{RPM: 60})
		require.NoError(t, err)
		s.Overloaded(1)
		res, err := send(context.Background(), s, "/v1/messages", anthropicBody)
		require.NoError(t, err)
		body, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		assert.Equal(t, statusOverloaded, res.StatusCode)
		assert.Contains(t, string(body), "overloaded_error")
	})
}
