package ratellmiter

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A vision request is charged its image's tokens before the answer: an
// inline 1024x1024 PNG costs 765 tokens at OpenAI (85 + 170 for each of
// the four 512 px tiles of its 768x768 scaling), which the estimate counted
// as none, so that a batch of image requests went out far beyond the token
// budget. The answer's usage then corrects the charge as for any request.
func TestTransportChargesTheTokensOfAnInlineImage(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 1024, 1024))
	for i := range img.Pix {
		img.Pix[i] = byte(i / 1024)
	}
	var encoded bytes.Buffer
	require.NoError(t, png.Encode(&encoded, img))
	url := "data:image/png;base64," + base64.StdEncoding.EncodeToString(encoded.Bytes())

	// The server answers with a usage that counts the image, as OpenAI
	// does.
	c := chargeOfHeldCall(t, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":"A gradient."},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":775,"completion_tokens":3,"total_tokens":778}}`,
		[]Option{WithTokensPerMinute(60000)}, func(baseURL string, rt http.RoundTripper) error {
			client := tpOpenAI(baseURL, rt)
			_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
				Model:               "gpt-4o",
				MaxCompletionTokens: openai.Int(10),
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
					openai.TextContentPart("What is in this image?"),
					openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: url, Detail: "auto"}),
				})},
			})
			return err
		})
	require.True(t, strings.Contains(c.body, `"image_url"`), "the SDK sent the image")
	// 765 for the image, 22 bytes of text (5) and one message (4) as
	// input, and 10 as output.
	assert.Equal(t, 784.0, c.before, "the charge before the answer")
	assert.Equal(t, 778.0, c.after, "the charge corrected from the usage")
}

// heldCharge is what a call through a limiter's transport was charged
// while a held server held it, and once its answer had come.
type heldCharge struct {
	body          string  // the call's body as the server received it
	before, after float64 // the tokens charged before and after the answer
}

// chargeOfHeldCall sends call, in a synctest bubble, through the transport
// of a limiter of 600 RPM made with opts to a heldServer that answers
// answer, and returns what the call was charged; the call must succeed,
// and leave the limiter settled. Time stands still while the request is on
// the network, so the token budget's level shows the charge exactly. call
// gets the server's URL and the transport.
func chargeOfHeldCall(t *testing.T, answer string, opts []Option, call func(baseURL string, rt http.RoundTripper) error) heldCharge {
	t.Helper()
	srv, arrived, release := heldServer(t, answer)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	var c heldCharge
	synctest.Test(t, func(t *testing.T) {
		defer base.CloseIdleConnections()
		defer release()
		l := newLimiter(t, 600, opts...)
		rt := tpTransport(t, base, WithLimiter(l))
		full := tokenLevel(l)
		done := make(chan error, 1)
		go func() { done <- call(srv.URL, rt) }()

		c.body = awaitArrival(t, arrived, done)
		c.before = full - tokenLevel(l)
		release()
		require.NoError(t, <-done)
		c.after = full - tokenLevel(l)
		assertSettled(t, l, 1)
	})
	if t.Failed() {
		t.FailNow() // the charges of a call that failed mean nothing
	}
	return c
}

// heldServer returns a server on 127.0.0.1 that sends each request's body
// on arrived, holds it until release is called, then answers with the
// JSON answer; it closes when the test ends. release may be called more
// than once: a test defers it, so that a failed check does not leave the
// server holding a request.
func heldServer(t *testing.T, answer string) (srv *httptest.Server, arrived chan string, release func()) {
	t.Helper()
	arrived, held := make(chan string, 1), make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		arrived <- string(body)
		<-held
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, arrived, sync.OnceFunc(func() { close(held) })
}

// awaitArrival returns the body of the call that reached the held server,
// or fails the test with the error of the call, done, that ended without
// reaching it.
func awaitArrival(t *testing.T, arrived <-chan string, done <-chan error) string {
	t.Helper()
	select {
	case body := <-arrived:
		return body
	case err := <-done:
		t.Fatalf("the request never reached the server: %v", err)
	}
	return ""
}

// tokenLevel returns the level of l's token budget.
func tokenLevel(l *BucketRateLimiter) float64 {
	l.lock()
	defer l.mu.Unlock()
	return l.bud.tokens.level
}
