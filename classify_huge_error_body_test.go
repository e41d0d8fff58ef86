package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The SDKs keep a refused call's whole error body, however long. The
// classifier reads no more of it than the transport does (maxErrorBody):
// a longer one is classified by its status and headers alone. A 429 with
// a 4 MiB message was decoded whole, three times over, and searched for
// a retry hint: 6 bytes allocated for each byte of the body, and 3.3 s
// of CPU for a 50 MB one, at every attempt of Do.
func TestDefaultClassifierReadsAHugeErrorBodyNoFurtherThanTheTransport(t *testing.T) {
	const size = 4 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"`+
			strings.Repeat("slow down ", size/10)+`"}}`)
	}))
	t.Cleanup(srv.Close)
	base := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(base.CloseIdleConnections)
	c := anthropic.NewClient(anthropicoption.WithBaseURL(srv.URL), anthropicoption.WithAPIKey("test"),
		anthropicoption.WithMaxRetries(0), anthropicoption.WithHTTPClient(&http.Client{Transport: base}))
	_, err := c.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeHaiku4_5,
		MaxTokens: 16,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	})
	require.Error(t, err)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := DefaultClassifier(err)
	runtime.ReadMemStats(&after)
	assert.Equal(t, Classification{Kind: KindRateLimited, RetryAfter: 7 * time.Second}, got,
		"a rate limit, with the hint of its headers")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(size/4),
		"the body is not copied nor decoded whole")
}
