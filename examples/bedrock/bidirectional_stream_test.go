package main

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// InvokeModelWithBidirectionalStream (Amazon Nova Sonic's speech to
// speech) sends its events over HTTP/2 as the caller writes them, while
// the answer's come back: through the transport, each event reaches the
// model and is answered as it is sent, under one ticket of the model's
// limiter, found in the path, held for the whole session.
func TestABedrockBidirectionalStreamFlowsThroughTheTransport(t *testing.T) {
	const sonic = "amazon.nova-sonic-v1:0"
	fake := startRuntime(t, answerIn, answerOut)
	svc := ratellmiter.NewService("bedrock", nil)
	t.Cleanup(func() { _ = svc.Close() })
	l, err := svc.NewLimiter(sonic, 600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
	require.NoError(t, err)
	c := newRuntimeClient(fake, exampletest.NewTransport(t, runtimeTransport(t, fake), ratellmiter.WithServiceLimiters(svc)))

	// A bound on the session, which takes a few milliseconds: without it
	// a session whose events never go out would wait for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := c.InvokeModelWithBidirectionalStream(ctx, &bedrockruntime.InvokeModelWithBidirectionalStreamInput{ModelId: aws.String(sonic)})
	require.NoError(t, err)
	s := out.GetStream()
	for _, event := range []string{`{"event":{"sessionStart":{}}}`, `{"event":{"audioInput":{}}}`, `{"event":{"sessionEnd":{}}}`} {
		require.NoError(t, s.Send(ctx, &types.InvokeModelWithBidirectionalStreamInputMemberChunk{
			Value: types.BidirectionalInputPayloadPart{Bytes: []byte(event)},
		}))
		var got types.InvokeModelWithBidirectionalStreamOutput
		select {
		case got = <-s.Events():
		case <-ctx.Done():
		}
		chunk, ok := got.(*types.InvokeModelWithBidirectionalStreamOutputMemberChunk)
		require.True(t, ok, "the answer to %s came back as it was sent: %v, %v", event, got, s.Err())
		assert.Equal(t, event, string(chunk.Value.Bytes))
		assert.EqualValues(t, 1, l.Stats().InFlight, "the session holds its ticket")
	}
	require.NoError(t, s.Close())
	for range s.Events() {
	}
	assert.Equal(t, []string{"invoke-with-bidirectional-stream"}, fake.Calls())
	assert.EqualValues(t, 1, l.Stats().Issued, "one ticket for the session")
}
