package main

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"
	"go.uber.org/goleak"
)

// These tests drive the limiters' transport with the OpenAI Go SDK's
// azure package against a fake Azure OpenAI endpoint on 127.0.0.1,
// served over TLS. The endpoint is started before a test's synctest
// bubble, and the transport under the limiters keeps no idle connection
// (a goroutine reading an idle connection would keep virtual time from
// advancing): inside the bubble, time stands still while a request is
// on the network and jumps while a limiter waits.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startFake starts an endpoint with the given deployments (requests and
// tokens per minute), closed with the test.
func startFake(t *testing.T, now func() time.Time, deps map[string][2]int) *fakeAzure {
	f := newFakeAzure(now, deps)
	f.start()
	t.Cleanup(f.close)
	return f
}

// keepAlive returns a transport trusting f's certificate that speaks
// HTTP/2 and keeps its connections, as a program's would, closing them
// with the test.
func keepAlive(t *testing.T, f *fakeAzure) *http.Transport {
	tr := f.srv.Client().Transport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newClient returns an Azure OpenAI client of f's endpoint that sends
// through rt, with the SDK's own retries off.
func newClient(f *fakeAzure, rt http.RoundTripper, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{
		azure.WithEndpoint(f.srv.URL, apiVersion),
		azure.WithAPIKey("test"),
		option.WithHTTPClient(&http.Client{Transport: rt}),
		option.WithMaxRetries(0),
	}, opts...)...)
}

// hello asks dep for a short answer.
func hello(dep string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:     dep,
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello in five words.")},
		MaxTokens: openai.Int(maxTok),
	}
}

// virtualClock is the fake endpoint's clock in a bubble: the endpoint
// runs outside it, and reads the time at which the bubble last sent a
// request, which the transport under the limiter notes.
type virtualClock struct{ ns atomic.Int64 }

func (c *virtualClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// stamped returns base noting on c the time each request is sent.
func (c *virtualClock) stamped(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		now := time.Now().UnixNano()
		for old := c.ns.Load(); old < now && !c.ns.CompareAndSwap(old, now); old = c.ns.Load() {
		}
		return base.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
