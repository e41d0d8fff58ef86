package main

import (
	"net/http"
	"testing"

	openai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"
)

// These tests drive the limiter with github.com/sashabaranov/go-openai
// against real servers on 127.0.0.1. Each server is started before its
// synctest bubble, and the transport under the limiter keeps no idle
// connection (a goroutine reading an idle connection would keep virtual
// time from advancing): inside the bubble, time stands still while a
// request is on the network and jumps while the limiter waits.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newClient returns a go-openai client for the API at baseURL that sends
// through rt.
func newClient(baseURL string, rt http.RoundTripper) *openai.Client {
	cfg := openai.DefaultConfig("test")
	cfg.BaseURL = baseURL
	cfg.HTTPClient = &http.Client{Transport: rt}
	return openai.NewClientWithConfig(cfg)
}

var hello = openai.ChatCompletionRequest{
	Model:               "gpt-4o-mini",
	Messages:            []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Say hello in five words."}},
	MaxCompletionTokens: 20,
}
