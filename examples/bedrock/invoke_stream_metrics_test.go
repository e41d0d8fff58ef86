package main

import (
	"context"
	"encoding/json"
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

// The stream of a model that is not Anthropic's (Meta's Llama here),
// through InvokeModelWithResponseStream, reports its usage only in the
// amazon-bedrock-invocationMetrics of its last chunk: the call is charged
// that usage once the stream ends, in place of its estimate.
func TestAStreamOfAnyModelIsChargedTheInvocationMetricsOfItsLastChunk(t *testing.T) {
	const budget = 20_000
	const in, out = 3_000, 2_000
	fake := startRuntime(t, in, out)
	base := runtimeTransport(t, fake)
	synctest.Test(t, func(t *testing.T) {
		l := tokenLimiter(t, budget)
		c := newRuntimeClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		res, err := c.InvokeModelWithResponseStream(context.Background(), &bedrockruntime.InvokeModelWithResponseStreamInput{
			ModelId:     aws.String("meta.llama3-1-8b-instruct-v1:0"),
			ContentType: aws.String("application/json"),
			Body:        []byte(`{"prompt":"Say hello in three words.","max_gen_len":100}`),
		})
		require.NoError(t, err)
		s := res.GetStream()
		var text string
		for ev := range s.Events() {
			if c, ok := ev.(*types.ResponseStreamMemberChunk); ok {
				var chunk struct{ Generation string }
				require.NoError(t, json.Unmarshal(c.Value.Bytes, &chunk))
				text += chunk.Generation
			}
		}
		require.NoError(t, s.Err())
		require.NoError(t, s.Close())
		assert.Equal(t, "Hello from Bedrock.", text)

		assert.False(t, tokenRoom(l, budget-(in+out)+1), "charged its usage, %d", in+out)
		assert.True(t, tokenRoom(l, budget-(in+out)))
		assert.Zero(t, l.Stats().InFlight)
	})
}
