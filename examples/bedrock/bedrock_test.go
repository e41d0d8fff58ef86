package main

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// These tests drive the limiter's transport with anthropic-sdk-go's
// bedrock package against a fake Bedrock endpoint over TLS on 127.0.0.1.
// Each endpoint is started before its synctest bubble, and the transport
// under the limiter keeps no idle connection (a goroutine reading an idle
// connection would keep virtual time from advancing): inside the bubble,
// time stands still while a request is on the network and jumps while
// the limiter waits.

// The AWS SDK's bidirectional stream leaves a goroutine of its own behind,
// waiting on a channel the SDK does not close, with or without the
// transport.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/aws/aws-sdk-go-v2/service/bedrockruntime.newAsyncEventStreamReader.func1"))
}

const (
	haiku  = "anthropic.claude-3-5-haiku-20241022-v1:0"
	sonnet = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
)

// startFake starts a fake endpoint stopped with the test.
func startFake(t *testing.T, rpm, burst int, now func() time.Time) *fakeBedrock {
	f := newFakeBedrock(rpm, burst, now)
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

// On Bedrock the SDK moves the model from the body into the URL path,
// escaped: calls still take the ticket of their model, a model id or an
// inference profile's ARN, streamed or not, and a model the service has no
// limiter for fails without being sent.
func TestBedrockCallsTakeTheTicketOfTheirModel(t *testing.T) {
	fake := startFake(t, 6000, 100, nil)
	mon := exampletest.NewMonitor(t)
	svc := ratellmiter.NewService("bedrock", nil)
	t.Cleanup(func() { _ = svc.Close() })
	lHaiku, err := svc.NewLimiter(haiku, 600, ratellmiter.WithMonitor(mon))
	require.NoError(t, err)
	lSonnet, err := svc.NewLimiter(sonnet, 600, ratellmiter.WithMonitor(mon))
	require.NoError(t, err)
	c := newClient(fake.srv.URL, exampletest.NewTransport(t, exampletest.NoKeepAlive(t, fake.srv), ratellmiter.WithServiceLimiters(svc)))

	for _, model := range []string{haiku, haiku, sonnet} {
		res, err := c.Messages.New(context.Background(), message(model))
		require.NoError(t, err, model)
		assert.Equal(t, strings.Join(reply, ""), res.Content[0].Text)
	}
	text, err := stream(c, sonnet)
	require.NoError(t, err)
	assert.Equal(t, strings.Join(reply, ""), text)

	assert.Equal(t, 2, fake.Accepted(haiku))
	assert.Equal(t, 2, fake.Accepted(sonnet))
	sh, ss := lHaiku.Stats(), lSonnet.Stats()
	assert.Equal(t, [2]uint64{2, 2}, [2]uint64{sh.Issued, sh.Finished}, "haiku: issued, finished")
	assert.Equal(t, [2]uint64{2, 2}, [2]uint64{ss.Issued, ss.Finished}, "sonnet: issued, finished")
	assert.Zero(t, sh.InFlight+ss.InFlight, "the stream's ticket is finished with the stream")

	_, err = c.Messages.New(context.Background(), message("anthropic.claude-opus-4-20250514-v1:0"))
	require.ErrorIs(t, err, ratellmiter.ErrNoLimiter)
	assert.Equal(t, 4, fake.Stats().Requests, "a call without a limiter is not sent")
}

// A 429 ThrottlingException pauses the limiter; the transport sends the
// call again once the limiter resumes, and the SDK sees only the answer,
// streamed or not.
func TestThrottlingExceptionPausesTheLimiterAndTheCallIsRetried(t *testing.T) {
	var clock exampletest.VirtualClock
	fake := startFake(t, 60, 1, clock.Now) // one request a second
	base := clock.Stamped(exampletest.NoKeepAlive(t, fake.srv))
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newClient(fake.srv.URL, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		_, err = c.Messages.New(context.Background(), message(haiku))
		require.NoError(t, err)
		_, err = c.Messages.New(context.Background(), message(haiku))
		require.NoError(t, err, "the 429 never reaches the SDK")
		text, err := stream(c, haiku)
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

// budgetLimiter returns a limiter of budget output tokens a minute, all
// banked, which issues 100,000 tickets a second.
func budgetLimiter(t *testing.T, budget int) *ratellmiter.BucketRateLimiter {
	t.Helper()
	l, err := ratellmiter.NewBucketRateLimiter(6_000_000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
		ratellmiter.WithOutputTokensPerMinute(budget), ratellmiter.WithTokenBurst(time.Minute))
	require.NoError(t, err)
	return l
}

// outputRoom reports whether the output budget of a budgetLimiter holds
// out tokens now, giving them back at once.
func outputRoom(l *ratellmiter.BucketRateLimiter, out int) bool {
	time.Sleep(10 * time.Microsecond) // the next request slot
	tk, ok := l.TryAcquire(ratellmiter.WithTokens(0, out))
	if ok {
		tk.Used(0, 0)
		tk.Done()
	}
	return ok
}

// A call is charged its max_tokens while it runs, and then the output its
// usage reports: a JSON answer's, or, for a stream, the message_delta
// inside Bedrock's binary event stream.
func TestACallIsChargedItsMaxTokensThenItsUsage(t *testing.T) {
	const budget = 10_000
	fake := startFake(t, 6000, 100, nil)
	base := exampletest.NoKeepAlive(t, fake.srv)
	for _, streamed := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			l := budgetLimiter(t, budget)
			gate, sent, release := exampletest.Gate(base)
			c := newClient(fake.srv.URL, exampletest.NewTransport(t, gate, ratellmiter.WithLimiter(l)))
			errc := make(chan error)
			go func() {
				var err error
				if streamed {
					_, err = stream(c, haiku)
				} else {
					_, err = c.Messages.New(context.Background(), message(haiku))
				}
				errc <- err
			}()
			<-sent
			assert.False(t, outputRoom(l, budget-256+1), "streamed %v: charged its max_tokens, 256", streamed)
			assert.True(t, outputRoom(l, budget-256), "streamed %v", streamed)
			close(release)
			require.NoError(t, <-errc)
			assert.False(t, outputRoom(l, budget-answerOut+1), "streamed %v: charged its usage, %d", streamed, answerOut)
			assert.True(t, outputRoom(l, budget-answerOut), "streamed %v", streamed)
			assert.Zero(t, l.Stats().InFlight)
		})
	}
}

// The example, with the limiter at twice the fake endpoint's limit,
// absorbs the endpoint's 429s: every call succeeds, none of them a 429,
// in little more time than the endpoint's limit takes.
func TestRunAbsorbsThe429sOfItsFake(t *testing.T) {
	var clock exampletest.VirtualClock
	fake := startFake(t, fakeRPM, fakeBurst, clock.Now)
	base := clock.Stamped(exampletest.NoKeepAlive(t, fake.srv))
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		const n = 120
		sum, err := run(config{n: n, workers: 10, rpm: 2 * fakeRPM, model: defaultModel, fake: fake, base: base, out: &out})
		require.NoError(t, err, out.String())
		t.Log("\n" + out.String())
		assert.Empty(t, sum.failed)
		assert.Zero(t, sum.caller429, "no 429 reaches the caller")
		assert.Equal(t, strings.Join(reply, ""), sum.text)

		fs, st := sum.server, sum.stats
		assert.Equal(t, n+1, fs.Accepted, "each call accepted once")
		assert.Positive(t, fs.Rejected429, "the limiter starts above the endpoint's limit")
		assert.EqualValues(t, fs.Rejected429, st.RateLimited, "every 429 seen by the limiter")
		assert.EqualValues(t, n+1, st.Finished)
		assert.Zero(t, st.InFlight)
		least := time.Duration(n+1-fakeBurst) * time.Minute / fakeRPM
		assert.GreaterOrEqual(t, sum.elapsed, least)
		assert.Less(t, sum.elapsed, least+10*time.Second)
	})
}

// A 429 ModelNotReadyException (the model is loading) pauses the limiter
// and the call is retried, but, unlike a ThrottlingException, it does not
// lower the limit: it says nothing about the caller's rate.
func TestModelNotReadyPausesWithoutLoweringTheLimit(t *testing.T) {
	fake := startFake(t, 6000, 100, nil)
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(1200, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newClient(fake.srv.URL, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		for range 2 {
			fake.NotReady(1)
			_, err := c.Messages.New(context.Background(), message(haiku))
			require.NoError(t, err, "the 429 never reaches the SDK")
			time.Sleep(5 * time.Second)
		}
		st := l.Stats()
		assert.EqualValues(t, 2, st.Pauses)
		assert.Equal(t, 1200, st.RPM, "two pauses 5 s apart, but the limit stands")
		assert.Equal(t, 2, fake.Stats().Rejected429)
	})
}

// With the SDK's own retries left on, a 429 the transport hands back (its
// limiter allows no retry) is retried by the SDK under a new ticket, which
// waits for the limiter to resume: the call succeeds and every ticket is
// accounted for.
func TestTheSDKsOwnRetriesTakeTicketsOfTheirOwn(t *testing.T) {
	fake := startFake(t, 6000, 100, nil)
	base := exampletest.NoKeepAlive(t, fake.srv)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)), ratellmiter.WithMaxRetries(0))
		require.NoError(t, err)
		c := anthropic.NewClient(append(clientOptions(fake.srv.URL, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l))), option.WithMaxRetries(2))...)
		fake.NotReady(2)
		res, err := c.Messages.New(context.Background(), message(haiku))
		require.NoError(t, err, "the SDK's third attempt succeeds")
		assert.Equal(t, strings.Join(reply, ""), res.Content[0].Text)
		fs, st := fake.Stats(), l.Stats()
		assert.Equal(t, 3, fs.Requests)
		assert.EqualValues(t, 3, st.Issued, "one ticket an attempt")
		assert.EqualValues(t, 3, st.Finished)
		assert.Zero(t, st.InFlight)
		assert.False(t, st.Paused)
	})
}
