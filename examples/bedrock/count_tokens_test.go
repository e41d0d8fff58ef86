package main

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// Bedrock's CountTokens (POST /model/{modelId}/count-tokens) runs no
// model: it takes a ticket of its model's limiter, but no tokens, as a
// count does at the other providers; in particular not the mean output of
// its model's uncapped calls, which it does not make.
func TestBedrockCountTokensTakesATicketButNoTokens(t *testing.T) {
	const budget = 20_000
	const in, out = 4_000, 2_000
	fake := startRuntime(t, in, out)
	base := runtimeTransport(t, fake)
	synctest.Test(t, func(t *testing.T) {
		l := tokenLimiter(t, budget)
		c := newRuntimeClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		uncapped := converseInput(haiku, 0)
		uncapped.InferenceConfig = nil
		_, err := c.Converse(context.Background(), uncapped)
		require.NoError(t, err)
		require.True(t, room(l, budget-(in+out), 0), "the call is charged its usage, %d", in+out)

		res, err := c.CountTokens(context.Background(), &bedrockruntime.CountTokensInput{
			ModelId: aws.String(haiku),
			Input: &types.CountTokensInputMemberConverse{Value: types.ConverseTokensRequest{
				Messages: []types.Message{{
					Role:    types.ConversationRoleUser,
					Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: strings.Repeat("word ", 3_200)}},
				}},
			}},
		})
		require.NoError(t, err)
		assert.EqualValues(t, in, aws.ToInt32(res.InputTokens))
		assert.Equal(t, []string{"converse " + haiku, "count-tokens " + haiku}, fake.Calls())
		assert.True(t, room(l, budget-(in+out), 0), "the count is charged no token")
		st := l.Stats()
		assert.EqualValues(t, 4, st.Issued, "the call's ticket and the count's, and room's two")
		assert.Zero(t, st.InFlight)
	})
}
