package fakeprovider

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startLoopback starts a server on 127.0.0.1 that is stopped with the test.
func startLoopback(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, url, stop, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(stop)
	return s, url
}

func newOpenAI(opts ...openaioption.RequestOption) openai.Client {
	base := []openaioption.RequestOption{openaioption.WithAPIKey("test"), openaioption.WithMaxRetries(0)}
	return openai.NewClient(append(base, opts...)...)
}

func newAnthropic(opts ...anthropicoption.RequestOption) anthropic.Client {
	base := []anthropicoption.RequestOption{anthropicoption.WithAPIKey("test"), anthropicoption.WithMaxRetries(0)}
	return anthropic.NewClient(append(base, opts...)...)
}

var openAIParams = openai.ChatCompletionNewParams{
	Model:    "gpt-4o-mini",
	Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
}

var anthropicParams = anthropic.MessageNewParams{
	Model:     anthropic.ModelClaudeHaiku4_5,
	MaxTokens: 64,
	Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
}

func TestOpenAISDKCompletion(t *testing.T) {
	_, url := startLoopback(t, Config{RPM: 600})
	client := newOpenAI(openaioption.WithBaseURL(url + "/v1/"))
	res, err := client.Chat.Completions.New(context.Background(), openAIParams)
	require.NoError(t, err)
	assert.Equal(t, "chat.completion", string(res.Object))
	assert.Equal(t, "gpt-4o-mini", res.Model)
	require.Len(t, res.Choices, 1)
	assert.NotEmpty(t, res.Choices[0].Message.Content)
	assert.Equal(t, "stop", res.Choices[0].FinishReason)
	assert.EqualValues(t, 1, res.Usage.PromptTokens)
	assert.EqualValues(t, defaultReplyTokens, res.Usage.CompletionTokens)
	assert.EqualValues(t, 1+defaultReplyTokens, res.Usage.TotalTokens)
}

func TestOpenAISDKStreaming(t *testing.T) {
	_, url := startLoopback(t, Config{RPM: 600})
	client := newOpenAI(openaioption.WithBaseURL(url + "/v1/"))
	params := openAIParams
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	acc := openai.ChatCompletionAccumulator{}
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	assert.Greater(t, chunks, defaultReplyTokens)
	require.Len(t, acc.Choices, 1)
	assert.Equal(t, "This is a simulated reply from a fake provider that throttles like", acc.Choices[0].Message.Content)
	assert.EqualValues(t, defaultReplyTokens, acc.Usage.CompletionTokens)
}

func TestOpenAISDKRateLimited(t *testing.T) {
	s, url := startLoopback(t, Config{RPM: 60})
	s.SetRPM(1)
	client := newOpenAI(openaioption.WithBaseURL(url + "/v1/"))
	_, err := client.Chat.Completions.New(context.Background(), openAIParams)
	require.NoError(t, err)
	_, err = client.Chat.Completions.New(context.Background(), openAIParams)
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	assert.Equal(t, "rate_limit_exceeded", apiErr.Code)
	assert.Equal(t, "requests", apiErr.Type)
}

func TestOpenAISDKQuotaExhausted(t *testing.T) {
	s, url := startLoopback(t, Config{RPM: 600})
	s.QuotaExhausted("", true)
	client := newOpenAI(openaioption.WithBaseURL(url + "/v1/"))
	_, err := client.Chat.Completions.New(context.Background(), openAIParams)
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	assert.Equal(t, "insufficient_quota", apiErr.Code)
}

func TestAnthropicSDKMessage(t *testing.T) {
	_, url := startLoopback(t, Config{RPM: 600})
	client := newAnthropic(anthropicoption.WithBaseURL(url))
	msg, err := client.Messages.New(context.Background(), anthropicParams)
	require.NoError(t, err)
	assert.Equal(t, anthropic.StopReasonEndTurn, msg.StopReason)
	require.Len(t, msg.Content, 1)
	assert.NotEmpty(t, msg.Content[0].Text)
	assert.EqualValues(t, 1, msg.Usage.InputTokens)
	assert.EqualValues(t, defaultReplyTokens, msg.Usage.OutputTokens)
}

func TestAnthropicSDKStreaming(t *testing.T) {
	_, url := startLoopback(t, Config{RPM: 600})
	client := newAnthropic(anthropicoption.WithBaseURL(url))
	stream := client.Messages.NewStreaming(context.Background(), anthropicParams)
	msg := anthropic.Message{}
	for stream.Next() {
		require.NoError(t, msg.Accumulate(stream.Current()))
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
	require.Len(t, msg.Content, 1)
	assert.Equal(t, "This is a simulated reply from a fake provider that throttles like", msg.Content[0].Text)
	assert.Equal(t, anthropic.StopReasonEndTurn, msg.StopReason)
	assert.EqualValues(t, 1, msg.Usage.InputTokens)
	assert.EqualValues(t, defaultReplyTokens, msg.Usage.OutputTokens)
}

func TestAnthropicSDKErrors(t *testing.T) {
	s, url := startLoopback(t, Config{RPM: 60})
	client := newAnthropic(anthropicoption.WithBaseURL(url))
	s.SetRPM(1) // one request a minute: the third call is refused however slow the machine
	s.Overloaded(1)
	_, err := client.Messages.New(context.Background(), anthropicParams)
	var apiErr *anthropic.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, statusOverloaded, apiErr.StatusCode)
	assert.EqualValues(t, "overloaded_error", apiErr.Type())

	_, err = client.Messages.New(context.Background(), anthropicParams)
	require.NoError(t, err)
	_, err = client.Messages.New(context.Background(), anthropicParams)
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)
	assert.EqualValues(t, "rate_limit_error", apiErr.Type())
}

// TestSDKsInsideSynctest drives both SDKs through the in-memory transport in
// a bubble, where a minute of latency and refills takes no real time.
func TestSDKsInsideSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(Config{RPM: 60, LatencyMedian: 300 * time.Millisecond, Seed: 1})
		require.NoError(t, err)
		hc := &http.Client{Transport: s.Transport()}
		oc := newOpenAI(openaioption.WithBaseURL("http://fake.invalid/v1/"), openaioption.WithHTTPClient(hc))
		ac := newAnthropic(anthropicoption.WithBaseURL("http://fake.invalid"), anthropicoption.WithHTTPClient(hc))
		ctx := context.Background()
		start := time.Now()

		res, err := oc.Chat.Completions.New(ctx, openAIParams)
		require.NoError(t, err)
		assert.Equal(t, "chat.completion", string(res.Object))

		_, err = ac.Messages.New(ctx, anthropicParams)
		var apiErr *anthropic.Error
		require.ErrorAs(t, err, &apiErr, "the second request within a second is over 60 RPM")
		assert.Equal(t, http.StatusTooManyRequests, apiErr.StatusCode)

		time.Sleep(time.Second)
		stream := ac.Messages.NewStreaming(ctx, anthropicParams)
		msg := anthropic.Message{}
		for stream.Next() {
			require.NoError(t, msg.Accumulate(stream.Current()))
		}
		require.NoError(t, stream.Err())
		assert.EqualValues(t, defaultReplyTokens, msg.Usage.OutputTokens)
		assert.Greater(t, time.Since(start), time.Second, "latency is simulated on the virtual clock")

		time.Sleep(time.Second)
		params := openAIParams
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		ostream := oc.Chat.Completions.NewStreaming(ctx, params)
		acc := openai.ChatCompletionAccumulator{}
		for ostream.Next() {
			acc.AddChunk(ostream.Current())
		}
		require.NoError(t, ostream.Err())
		assert.EqualValues(t, defaultReplyTokens, acc.Usage.CompletionTokens)

		st := s.Stats()
		assert.Equal(t, Stats{Requests: 4, Accepted: 3, Rejected429: 1, Tokens: 3 * (1 + defaultReplyTokens)}, st)
	})
}
