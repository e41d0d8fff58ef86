package ratellmiter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A PDF given by file id is charged a guess, one page, until an answer
// tells what it costs: a request that names the same file then is charged
// what the last answer reported as its input. Here a 40,000-token PDF is
// charged 1,565 tokens (a page on gpt-4o) the first time, 40,000 the
// second; another file is charged the guess again.
func TestTransportLearnsWhatAFileGivenByReferenceCosts(t *testing.T) {
	arrived, gate := make(chan string, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		arrived <- string(body)
		<-gate
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"A report."},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":40000,"completion_tokens":5,"total_tokens":40005}}`)
	}))
	t.Cleanup(srv.Close)
	// No connection stays open between calls: a goroutine reading one
	// would keep the bubble's time from advancing.
	base := &http.Transport{DisableKeepAlives: true}
	defer base.CloseIdleConnections()

	synctest.Test(t, func(t *testing.T) {
		defer base.CloseIdleConnections()
		l := newLimiter(t, 600, WithTokensPerMinute(6_000_000))
		client := tpOpenAI(srv.URL, tpTransport(t, base, WithLimiter(l)))
		// charged sends a question about the file, a second after the
		// last (the budget full again), and returns what it was charged
		// before its answer.
		charged := func(fileID string) float64 {
			time.Sleep(time.Second)
			l.lock()
			l.bud.tokens.at(l.now()) // the refill of the second slept
			l.mu.Unlock()
			full := tokenLevel(l)
			done := make(chan error, 1)
			go func() {
				_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
					Model:               "gpt-4o",
					MaxCompletionTokens: openai.Int(16),
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
						openai.TextContentPart("Summarize."),
						openai.FileContentPart(openai.ChatCompletionContentPartFileFileParam{FileID: openai.String(fileID)}),
					})},
				})
				done <- err
			}()
			awaitArrival(t, arrived, done)
			before := full - tokenLevel(l)
			gate <- struct{}{}
			require.NoError(t, <-done)
			return before
		}
		// A page of gpt-4o, 10 bytes of text (2) and a message (4) as
		// input, 16 as output.
		guess := float64(1565 + 2 + 4 + 16)
		assert.Equal(t, guess, charged("file-report"), "the first time: a page")
		assert.Equal(t, float64(40000+16), charged("file-report"), "then what the answer reported")
		assert.Equal(t, guess, charged("file-other"), "another file: a page")
	})
}

// What a transport learns is kept for the last maxRefCosts files it
// learned of: the oldest is forgotten first, and learning again of a file
// it knows changes its cost without forgetting any other.
func TestRefCostsKeepTheLatestFiles(t *testing.T) {
	var c refCosts
	for i := range maxRefCosts {
		c.set(fmt.Sprint("file-", i), int64(i))
	}
	c.set("file-0", 7)
	_, ok := c.get("file-1")
	require.True(t, ok, "nothing forgotten while there is room")
	c.set("file-new", 1)
	_, ok = c.get("file-0")
	assert.False(t, ok, "the oldest forgotten")
	v, ok := c.get("file-new")
	assert.True(t, ok)
	assert.EqualValues(t, 1, v)
	v, _ = c.get("file-1")
	assert.EqualValues(t, 1, v)
	assert.Len(t, c.cost.m.m, maxRefCosts)
	assert.Len(t, c.cost.m.order, maxRefCosts)
}
