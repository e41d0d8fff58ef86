package ratellmiter

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"

	"testing"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// The benchmarks of this file measure what the Transport adds to large
// calls against a plain client, over loopback, in the same run: a large
// prompt (its token estimate), a long event stream and a large JSON answer
// (the usage read from them). The limiters never make a call wait.

// benchFastLimiter returns a limiter with a token budget so large that no
// call waits.
func benchFastLimiter(b *testing.B) *BucketRateLimiter {
	m := NewMonitor()
	b.Cleanup(func() { m.Stop() })
	l, err := NewBucketRateLimiter(60_000_000_000, WithMonitor(m), WithRampUp(1, 1), WithTokensPerMinute(1<<50))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// benchPlainAndBudgeted runs call through a plain client and through a
// Transport whose limiter has a token budget.
func benchPlainAndBudgeted(b *testing.B, srv *httptest.Server, size int64, call func(*http.Client) error) {
	tr, err := NewTransport(srv.Client().Transport, WithLimiter(benchFastLimiter(b)))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		c    *http.Client
	}{{"plain", srv.Client()}, {"budgeted", tr.Client()}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := call(c.c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// post sends body to url and reads the whole answer.
func benchPost(c *http.Client, url string, body []byte) error {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// BenchmarkTransportLargePrompt sends chat requests of 1 and 20 MB, of
// text and of one base64 image, which a token budget reads for their
// estimate.
func BenchmarkTransportLargePrompt(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":1}}`)
	}))
	b.Cleanup(srv.Close)
	for _, mb := range []int{1, 20} {
		for _, c := range []struct {
			name string
			body []byte
		}{{"chat", samples.ChatRequest(mb << 20)}, {"image", samples.ImageRequest(mb << 20)}} {
			b.Run(fmt.Sprintf("%s/%dMB", c.name, mb), func(b *testing.B) {
				benchPlainAndBudgeted(b, srv, int64(len(c.body)), func(hc *http.Client) error {
					return benchPost(hc, srv.URL+"/v1/chat/completions", c.body)
				})
			})
		}
	}
}

// BenchmarkTransportStream reads streams of 1,000 and 100,000 events in
// OpenAI's (every chunk with "usage":null, the usage in the last),
// Anthropic's and Gemini's (every chunk with its usageMetadata) forms.
func BenchmarkTransportStream(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		for _, c := range []struct {
			name   string
			stream []byte
		}{{"openai", samples.OpenAIStream(n)}, {"anthropic", samples.AnthropicStream(n)}, {"gemini", samples.GeminiStream(n)}} {
			b.Run(fmt.Sprintf("%s/%d", c.name, n), func(b *testing.B) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "text/event-stream")
					for p := c.stream; len(p) > 0; {
						k := min(len(p), 16<<10)
						_, _ = w.Write(p[:k])
						p = p[k:]
					}
				}))
				b.Cleanup(srv.Close)
				req := []byte(`{"model":"gpt-4o-mini","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`)
				benchPlainAndBudgeted(b, srv, int64(len(c.stream)), func(hc *http.Client) error {
					return benchPost(hc, srv.URL+"/v1/chat/completions", req)
				})
			})
		}
	}
}

// BenchmarkTransportLargeAnswer reads JSON answers: embeddings of 2 MB,
// whose usage comes last, and an answer of 50 MB, too long to be read for
// its usage; each sent with its Content-Length, and chunked.
func BenchmarkTransportLargeAnswer(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{{"embeddings/2MB", samples.EmbeddingsAnswer(100)}, {"json/50MB", samples.EmbeddingsAnswer(2500)}} {
		for _, sized := range []bool{true, false} {
			name := c.name + "/chunked"
			if sized {
				name = c.name + "/sized"
			}
			b.Run(name, func(b *testing.B) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					if sized {
						w.Header().Set("Content-Length", strconv.Itoa(len(c.body)))
					}
					_, _ = w.Write(c.body)
				}))
				b.Cleanup(srv.Close)
				req := []byte(`{"model":"text-embedding-3-small","input":["hello"]}`)
				benchPlainAndBudgeted(b, srv, int64(len(c.body)), func(hc *http.Client) error {
					return benchPost(hc, srv.URL+"/v1/embeddings", req)
				})
			})
		}
	}
}
