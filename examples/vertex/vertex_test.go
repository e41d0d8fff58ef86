package main

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// These tests drive the limiter's transport with anthropic-sdk-go's vertex
// package against a fake Vertex AI endpoint over TLS on 127.0.0.1. Each
// endpoint is started before its synctest bubble, and the transport under
// the limiter keeps no idle connection (a goroutine reading an idle
// connection would keep virtual time from advancing).

// TestMain fails the run if any goroutine outlives the tests, but for the
// one go.opencensus.io starts when it is loaded and never stops (its stats
// worker): the vertex package imports it through google.golang.org/api.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

const sonnet, haiku = "claude-sonnet-4@20250514", "claude-3-5-haiku@20241022"

func startFake(t *testing.T, rpm, burst int, now func() time.Time) *fakeVertex {
	f := newFakeVertex(rpm, burst, now)
	f.start()
	t.Cleanup(f.close)
	return f
}

// stream makes a streamed call and returns its text.
func stream(c anthropic.Client, model string) (string, error) {
	s := c.Messages.NewStreaming(context.Background(), message(model))
	defer func() { _ = s.Close() }()
	var text string
	for s.Next() {
		if d, ok := s.Current().AsAny().(anthropic.ContentBlockDeltaEvent); ok {
			text += d.Delta.Text
		}
	}
	return text, s.Err()
}

// On Vertex AI the SDK moves the model from a message's body into the URL
// path, .../models/{model}:rawPredict: calls still take the ticket of their
// model, streamed or not; a token count, sent to
// .../models/count-tokens:rawPredict with the model in its body, takes the
// ticket of that model; and a model the service has no limiter for fails
// without being sent.
func TestVertexCallsTakeTheTicketOfTheirModel(t *testing.T) {
	fake := startFake(t, 6000, 100, nil)
	mon := exampletest.NewMonitor(t)
	svc := ratellmiter.NewService("vertex", nil)
	t.Cleanup(func() { _ = svc.Close() })
	lSonnet, err := svc.NewLimiter(sonnet, 600, ratellmiter.WithMonitor(mon))
	require.NoError(t, err)
	lHaiku, err := svc.NewLimiter(haiku, 600, ratellmiter.WithMonitor(mon))
	require.NoError(t, err)
	ctx := context.Background()
	c := newClient(ctx, fake.srv.URL, exampletest.NewTransport(t, exampletest.NoKeepAlive(t, fake.srv), ratellmiter.WithServiceLimiters(svc)))

	for _, model := range []string{sonnet, sonnet, haiku} {
		res, err := c.Messages.New(ctx, message(model))
		require.NoError(t, err, model)
		assert.Equal(t, strings.Join(reply, ""), res.Content[0].Text)
	}
	text, err := stream(c, haiku)
	require.NoError(t, err)
	assert.Equal(t, strings.Join(reply, ""), text)
	p := message(haiku)
	count, err := c.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: p.Model, Messages: p.Messages})
	require.NoError(t, err)
	assert.EqualValues(t, counted, count.InputTokens)

	assert.Equal(t, 2, fake.Accepted(sonnet))
	assert.Equal(t, 2, fake.Accepted(haiku))
	ss, sh := lSonnet.Stats(), lHaiku.Stats()
	assert.Equal(t, [2]uint64{2, 2}, [2]uint64{ss.Issued, ss.Finished}, "sonnet: issued, finished")
	assert.Equal(t, [2]uint64{3, 3}, [2]uint64{sh.Issued, sh.Finished}, "haiku: issued, finished, the count included")
	assert.Zero(t, ss.InFlight+sh.InFlight, "the stream's ticket is finished with the stream")

	_, err = c.Messages.New(ctx, message("claude-opus-4@20250514"))
	require.ErrorIs(t, err, ratellmiter.ErrNoLimiter)
	assert.Equal(t, 4, fake.Stats().Requests, "a call without a limiter is not sent")
}

// A 429 RESOURCE_EXHAUSTED pauses the limiter; the transport sends the
// call again once the limiter resumes, and the SDK sees only the answer,
// streamed or not.
func TestResourceExhaustedPausesTheLimiterAndTheCallIsRetried(t *testing.T) {
	var clock exampletest.VirtualClock
	fake := startFake(t, 60, 1, clock.Now) // one request a second
	base := clock.Stamped(exampletest.NoKeepAlive(t, fake.srv))
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newClient(context.Background(), fake.srv.URL, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		_, err = c.Messages.New(context.Background(), message(sonnet))
		require.NoError(t, err)
		_, err = c.Messages.New(context.Background(), message(sonnet))
		require.NoError(t, err, "the 429 never reaches the SDK")
		text, err := stream(c, sonnet)
		require.NoError(t, err)
		assert.Equal(t, strings.Join(reply, ""), text)

		fs, st := fake.Stats(), l.Stats()
		assert.Equal(t, 3, fs.Accepted)
		assert.Positive(t, fs.Rejected429)
		assert.EqualValues(t, fs.Rejected429, st.RateLimited, "every 429 seen by the limiter")
		assert.Positive(t, st.Pauses)
		assert.False(t, st.Paused)
		assert.EqualValues(t, 3, st.Finished)
		assert.Zero(t, st.InFlight)
	})
}

// The example, with the limiter at twice the fake endpoint's limit,
// absorbs the endpoint's 429s and learns its limit: every call succeeds,
// none of them a 429, in little more time than the endpoint's limit takes.
func TestRunAbsorbsThe429sOfItsFake(t *testing.T) {
	var clock exampletest.VirtualClock
	fake := startFake(t, fakeRPM, fakeBurst, clock.Now)
	base := clock.Stamped(exampletest.NoKeepAlive(t, fake.srv))
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		const n = 120
		sum, err := run(config{n: n, workers: 10, rpm: 2 * fakeRPM, model: sonnet, fake: fake, base: base, out: &out})
		require.NoError(t, err, out.String())
		t.Log("\n" + out.String())
		assert.Empty(t, sum.failed)
		assert.Zero(t, sum.caller429, "no 429 reaches the caller")
		assert.EqualValues(t, counted, sum.counted)
		assert.Equal(t, strings.Join(reply, ""), sum.text)

		fs, st := sum.server, sum.stats
		assert.Equal(t, n+1, fs.Accepted, "each call accepted once")
		assert.Positive(t, fs.Rejected429, "the limiter starts above the endpoint's limit")
		assert.EqualValues(t, fs.Rejected429, st.RateLimited, "every 429 seen by the limiter")
		assert.EqualValues(t, n+2, st.Finished, "the calls and the count")
		assert.Zero(t, st.InFlight)
		least := time.Duration(n+1-fakeBurst) * time.Minute / fakeRPM
		assert.GreaterOrEqual(t, sum.elapsed, least)
		assert.Less(t, sum.elapsed, least+10*time.Second)
	})
}
