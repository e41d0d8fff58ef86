package main

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// room reports whether the budgets of l hold in input and out output
// tokens now, giving them back at once.
func room(l *ratellmiter.BucketRateLimiter, in, out int) bool {
	time.Sleep(10 * time.Microsecond) // the next request slot
	tk, ok := l.TryAcquire(ratellmiter.WithTokens(in, out))
	if ok {
		tk.Used(0, 0)
		tk.Done()
	}
	return ok
}

// toolCall is a Converse call to model capped at maxTokens that offers a
// tool described in 8,000 bytes, and whose conversation holds a call of
// that tool with 4,000 bytes of input and its JSON result of 4,000 bytes:
// about 4,000 tokens of prompt, at four bytes a token.
func toolCall(model string, maxTokens int32) *bedrockruntime.ConverseInput {
	in := converseInput(model, maxTokens)
	in.System = []types.SystemContentBlock{&types.SystemContentBlockMemberText{Value: "Answer from the catalogue."}}
	in.ToolConfig = &types.ToolConfiguration{Tools: []types.Tool{&types.ToolMemberToolSpec{Value: types.ToolSpecification{
		Name:        aws.String("lookup"),
		Description: aws.String(strings.Repeat("Looks a product up. ", 400)),
		InputSchema: &types.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
			"type": "object", "properties": map[string]any{"query": map[string]any{"type": "string"}},
		})},
	}}}}
	in.Messages = append(in.Messages,
		types.Message{Role: types.ConversationRoleAssistant, Content: []types.ContentBlock{&types.ContentBlockMemberToolUse{Value: types.ToolUseBlock{
			ToolUseId: aws.String("tooluse_1"), Name: aws.String("lookup"),
			Input: document.NewLazyDocument(map[string]any{"query": strings.Repeat("q", 4000)}),
		}}}},
		types.Message{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberToolResult{Value: types.ToolResultBlock{
			ToolUseId: aws.String("tooluse_1"),
			Content: []types.ToolResultContentBlock{&types.ToolResultContentBlockMemberJson{Value: document.NewLazyDocument(map[string]any{
				"rows": strings.Repeat("r", 4000),
			})}},
		}}}},
	)
	return in
}

// While a Converse call runs it is charged its output cap,
// inferenceConfig.maxTokens, and its prompt: the text of its messages and
// system prompt, its tool definitions (toolConfig), and the input of the
// tool calls and the results its conversation holds; then, once its
// answer is in, the usage that answer reports.
func TestAConverseCallIsChargedItsMaxTokensAndItsToolsWhileItRuns(t *testing.T) {
	const budget = 20_000
	const maxTokens = 4_000
	fake := startRuntime(t, answerIn, answerOut)
	base := runtimeTransport(t, fake)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(6_000_000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
			ratellmiter.WithInputTokensPerMinute(budget), ratellmiter.WithOutputTokensPerMinute(budget),
			ratellmiter.WithTokenBurst(time.Minute))
		require.NoError(t, err)
		gate, sent, release := exampletest.Gate(base)
		c := newRuntimeClient(fake, exampletest.NewTransport(t, gate, ratellmiter.WithLimiter(l)))
		errc := make(chan error)
		go func() {
			_, err := c.Converse(context.Background(), toolCall("amazon.nova-pro-v1:0", maxTokens))
			errc <- err
		}()
		<-sent
		assert.False(t, room(l, 0, budget-maxTokens+1), "charged its maxTokens, %d", maxTokens)
		assert.True(t, room(l, 0, budget-maxTokens))
		assert.False(t, room(l, budget-4_000+1, 0), "charged its prompt, tools and tool calls: over 4,000 tokens")
		close(release)
		require.NoError(t, <-errc)
		assert.False(t, room(l, budget-answerIn+1, budget-answerOut+1))
		assert.True(t, room(l, budget-answerIn, budget-answerOut), "charged its usage, %d and %d", answerIn, answerOut)
		assert.Zero(t, l.Stats().InFlight)
	})
}
