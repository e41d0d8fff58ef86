package main

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// Each call takes the ticket of its deployment's limiter, on the classic
// path the azure package writes (/openai/deployments/NAME/...) and on
// the v1 one (/openai/v1/..., the deployment named by the body's model);
// a deployment the service has no limiter for fails without being sent,
// and one the resource does not have is Azure's 404, handed on at once.
func TestCallsTakeTheTicketOfTheirDeployment(t *testing.T) {
	fake := startFake(t, nil, map[string][2]int{mini: {6000, 0}, big: {6000, 0}, "unlimited": {6000, 0}})
	mon := exampletest.NewMonitor(t)
	svc := ratellmiter.NewService("azure-openai", nil)
	t.Cleanup(func() { _ = svc.Close() })
	limiters := map[string]*ratellmiter.BucketRateLimiter{}
	for _, name := range []string{mini, big, "missing"} {
		l, err := svc.NewLimiter(name, 6000, ratellmiter.WithMonitor(mon))
		require.NoError(t, err)
		limiters[name] = l
	}
	rt := exampletest.NewTransport(t, keepAlive(t, fake), ratellmiter.WithServiceLimiters(svc))
	classic := newClient(fake, rt)
	v1 := openai.NewClient(
		option.WithBaseURL(fake.srv.URL+"/openai/v1/"),
		option.WithHeader("api-key", "test"),
		option.WithHTTPClient(&http.Client{Transport: rt}),
		option.WithMaxRetries(0),
	)
	ctx := context.Background()

	for _, c := range []openai.Client{classic, v1} {
		for _, dep := range []string{mini, big, big} {
			var raw *http.Response
			_, err := c.Chat.Completions.New(ctx, hello(dep), option.WithResponseInto(&raw))
			require.NoError(t, err, dep)
			assert.Equal(t, "HTTP/2.0", raw.Proto)
		}
	}
	assert.EqualValues(t, 2, limiters[mini].Stats().Finished)
	assert.EqualValues(t, 4, limiters[big].Stats().Finished)
	assert.Equal(t, 2, fake.Accepted(mini))
	assert.Equal(t, 4, fake.Accepted(big))

	_, err := classic.Chat.Completions.New(ctx, hello("unlimited"))
	require.ErrorIs(t, err, ratellmiter.ErrNoLimiter)
	assert.Zero(t, fake.Accepted("unlimited"), "not sent")

	_, err = classic.Chat.Completions.New(ctx, hello("missing"))
	var apiErr *openai.Error
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	assert.Equal(t, "DeploymentNotFound", apiErr.Code)
	st := limiters["missing"].Stats()
	assert.EqualValues(t, 1, st.Issued, "sent once")
	assert.EqualValues(t, 1, st.Finished)
	assert.Zero(t, st.Pauses)
	assert.Equal(t, 1, fake.Stats().NotFound404)
}
