package main

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// An InvokeModel answer of a model whose body reports its usage in a shape
// of its own (Meta's Llama: prompt_token_count, generation_token_count)
// carries Bedrock's token counts in its headers,
// X-Amzn-Bedrock-Input-Token-Count and -Output-Token-Count: the call is
// charged them, whether its body was sent as JSON or, with no ContentType
// given to the SDK, as application/octet-stream.
func TestAnInvokeModelCallIsChargedTheTokenCountsOfItsAnswersHeaders(t *testing.T) {
	const budget = 20_000
	const in, out = 3_000, 2_000
	fake := startRuntime(t, in, out)
	base := runtimeTransport(t, fake)
	for name, contentType := range map[string]*string{"JSON": aws.String("application/json"), "NoContentType": nil} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := tokenLimiter(t, budget)
				c := newRuntimeClient(fake, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
				_, err := c.InvokeModel(context.Background(), &bedrockruntime.InvokeModelInput{
					ModelId:     aws.String("meta.llama3-1-8b-instruct-v1:0"),
					ContentType: contentType,
					Body:        []byte(`{"prompt":"Say hello in three words.","max_gen_len":100}`),
				})
				require.NoError(t, err)
				assert.False(t, tokenRoom(l, budget-(in+out)+1), "charged its usage, %d", in+out)
				assert.True(t, tokenRoom(l, budget-(in+out)))
				assert.Zero(t, l.Stats().InFlight)
			})
		})
	}
}
