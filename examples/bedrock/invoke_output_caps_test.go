package main

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// An InvokeModel call to a model that is not Anthropic's is charged,
// while it runs, the output cap its model's own request names (Meta
// Llama's max_gen_len, Amazon Nova's inferenceConfig.max_new_tokens,
// Amazon Titan's textGenerationConfig.maxTokenCount), and its prompt
// (Titan's inputText among them), as an Anthropic call is its max_tokens.
func TestInvokeModelCallsAreChargedTheOutputCapOfTheirModelsRequest(t *testing.T) {
	const budget = 20_000
	const maxTokens = 4_000
	prompt := strings.Repeat("word ", 1_600) // 8,000 bytes: 2,000 tokens
	fake := startRuntime(t, answerIn, answerOut)
	base := runtimeTransport(t, fake)
	for _, tc := range []struct{ model, body string }{
		{"meta.llama3-1-8b-instruct-v1:0", `{"prompt":"` + prompt + `","max_gen_len":4000}`},
		{"amazon.nova-lite-v1:0", `{"messages":[{"role":"user","content":[{"text":"` + prompt + `"}]}],"inferenceConfig":{"max_new_tokens":4000}}`},
		{"amazon.titan-text-express-v1", `{"inputText":"` + prompt + `","textGenerationConfig":{"maxTokenCount":4000}}`},
	} {
		t.Run(tc.model, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, err := ratellmiter.NewBucketRateLimiter(6_000_000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
					ratellmiter.WithInputTokensPerMinute(budget), ratellmiter.WithOutputTokensPerMinute(budget),
					ratellmiter.WithTokenBurst(time.Minute))
				require.NoError(t, err)
				gate, sent, release := exampletest.Gate(base)
				c := newRuntimeClient(fake, exampletest.NewTransport(t, gate, ratellmiter.WithLimiter(l)))
				errc := make(chan error)
				go func() {
					_, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
						ModelId: aws.String(tc.model), ContentType: aws.String("application/json"), Body: []byte(tc.body),
					})
					errc <- err
				}()
				<-sent
				assert.False(t, room(l, 0, budget-maxTokens+1), "charged its output cap, %d", maxTokens)
				assert.True(t, room(l, 0, budget-maxTokens))
				assert.False(t, room(l, budget-2_000+1, 0), "charged its prompt, 2,000 tokens or more")
				close(release)
				require.NoError(t, <-errc)
				assert.Zero(t, l.Stats().InFlight)
			})
		})
	}
}
