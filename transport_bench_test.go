package ratellmiter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkTransport measures what the Transport adds to a round trip over
// loopback: a plain client and a client through NewTransport, with a
// limiter so fast that it never makes a request wait, call the same
// server in the same run. BenchmarkTransportOverhead does the same without
// the network, where the difference is not lost in the noise.
func BenchmarkTransport(b *testing.B) {
	const reply = `{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, reply)
	}))
	b.Cleanup(srv.Close)

	benchClients(b, srv.URL, srv.Client().Transport)
}

func BenchmarkTransportOverhead(b *testing.B) {
	const reply = `{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
		return &http.Response{
			StatusCode:    http.StatusOK,
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(strings.NewReader(reply)),
			ContentLength: int64(len(reply)),
			Request:       r,
		}, nil
	})
	benchClients(b, "http://bench.invalid", base)
}

// benchClients posts a small chat request to url through base, plainly,
// through a Transport with one limiter, and through one routing by model
// to a service's limiter. Both limiters are so fast that no request waits.
func benchClients(b *testing.B, url string, base http.RoundTripper) {
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	m := NewMonitor()
	b.Cleanup(func() { m.Stop() })
	l, err := NewBucketRateLimiter(60_000_000_000, WithMonitor(m), WithRampUp(1, 1))
	if err != nil {
		b.Fatal(err)
	}
	svc := NewService("bench", nil)
	if _, err := svc.NewLimiter("gpt-4o-mini", 60_000_000_000, WithMonitor(m), WithRampUp(1, 1)); err != nil {
		b.Fatal(err)
	}
	limited, err := NewTransport(base, WithLimiter(l))
	if err != nil {
		b.Fatal(err)
	}
	routed, err := NewTransport(base, WithServiceLimiters(svc))
	if err != nil {
		b.Fatal(err)
	}
	clients := []struct {
		name string
		c    *http.Client
	}{
		{"plain", &http.Client{Transport: base}},
		{"limiter", limited.Client()},
		{"per-model", routed.Client()},
	}
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
}
