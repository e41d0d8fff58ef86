package ratellmiter

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
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
		text := strings.Repeat(`Lorem ipsum dolor sit amet, \"quoted\" text.\n `, 4096/48)
		var chat bytes.Buffer
		chat.WriteString(`{"model":"gpt-4o","max_completion_tokens":1000,"messages":[`)
		for i := 0; chat.Len() < mb<<20; i++ {
			if i > 0 {
				chat.WriteByte(',')
			}
			fmt.Fprintf(&chat, `{"role":"user","content":"%s"}`, text)
		}
		chat.WriteString(`]}`)
		image := []byte(`{"model":"gpt-4o","max_tokens":300,"messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("iVBORw0KGgo", (mb<<20)/11) + `"}}]}]}`)
		for _, c := range []struct {
			name string
			body []byte
		}{{"chat", chat.Bytes()}, {"image", image}} {
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
		}{{"openai", benchOpenAIStream(n)}, {"anthropic", benchAnthropicStream(n)}, {"gemini", benchGeminiStream(n)}} {
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
	}{{"embeddings/2MB", benchEmbeddings(100)}, {"json/50MB", benchEmbeddings(2500)}} {
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

func benchOpenAIStream(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `data: {"id":"chatcmpl-B9","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n", i)
	}
	fmt.Fprintf(&b, `data: {"id":"chatcmpl-B9","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":%d,"total_tokens":%d}}`+"\n\ndata: [DONE]\n\n", n, n+10)
	return b.Bytes()
}

func benchAnthropicStream(n int) []byte {
	var b bytes.Buffer
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n")
	for i := range n {
		if i%100 == 0 {
			fmt.Fprintf(&b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n", i/100)
		}
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":\" word%d\"}}\n\n", i/100, i)
		if i%100 == 99 || i == n-1 {
			fmt.Fprintf(&b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":%d}\n\n", i/100)
		}
	}
	fmt.Fprintf(&b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":%d}}\n\n", n)
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return b.Bytes()
}

func benchGeminiStream(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `data: {"candidates":[{"content":{"parts":[{"text":" word%d"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":%d,"totalTokenCount":%d},"modelVersion":"gemini-2.5-flash","responseId":"abc"}`+"\r\n\r\n", i, i+1, i+11)
	}
	return b.Bytes()
}

// benchEmbeddings returns an OpenAI embeddings answer of n vectors of 1536
// numbers, some 20 KB each, its usage last.
func benchEmbeddings(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"object":"embedding","index":%d,"embedding":[`, i)
		for j := range 1536 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%.9f", float64((i*1536+j)%1000)/-1234.5)
		}
		b.WriteString("]}")
	}
	b.WriteString(`],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
	return b.Bytes()
}
