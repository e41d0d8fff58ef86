package main

import (
	"net/http"
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
