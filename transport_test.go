package ratellmiter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// fakeURL is the base URL of a fake provider reached through its
// in-memory transport; nothing is dialled.
const fakeURL = "http://fake.invalid"

// tpProvider returns a fake provider for cfg.
func tpProvider(t *testing.T, cfg fakeprovider.Config) *fakeprovider.Server {
	t.Helper()
	s, err := fakeprovider.New(cfg)
	require.NoError(t, err)
	return s
}

// tpTransport returns a Transport over base with opts.
func tpTransport(t *testing.T, base http.RoundTripper, opts ...TransportOption) *Transport {
	t.Helper()
	tr, err := NewTransport(base, opts...)
	require.NoError(t, err)
	return tr
}

// tpOpenAI returns an OpenAI client for the provider at baseURL whose
// requests go through rt, with the SDK's own retries off.
func tpOpenAI(baseURL string, rt http.RoundTripper) openai.Client {
	return openai.NewClient(
		openaioption.WithBaseURL(baseURL+"/v1/"),
		openaioption.WithAPIKey("test"),
		openaioption.WithMaxRetries(0),
		openaioption.WithHTTPClient(&http.Client{Transport: rt}),
	)
}

// tpAnthropic is tpOpenAI for Anthropic.
func tpAnthropic(baseURL string, rt http.RoundTripper) anthropic.Client {
	return anthropic.NewClient(
		anthropicoption.WithBaseURL(baseURL),
		anthropicoption.WithAPIKey("test"),
		anthropicoption.WithMaxRetries(0),
		anthropicoption.WithHTTPClient(&http.Client{Transport: rt}),
	)
}

func tpChat(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}
}

func tpMessage() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeHaiku4_5,
		MaxTokens: 64,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
}

// runParallel calls fn n times from g goroutines and returns the errors.
func runParallel(g, n int, fn func() error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		next atomic.Int64
	)
	for range g {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if err := fn(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// assertSettled checks that every ticket of l is finished.
func assertSettled(t *testing.T, l *BucketRateLimiter, finished int) {
	t.Helper()
	st := l.Stats()
	assert.Equal(t, 0, st.InFlight, "in flight")
	assert.Equal(t, 0, st.Waiting, "waiting")
	assert.EqualValues(t, finished, st.Finished, "finished")
	assertConserved(t, l)
}

func TestTransportOpenAIAbsorbsRateLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		l := newLimiter(t, 1200) // twice what the server allows
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		start := time.Now()

		errs := runParallel(20, 200, func() error {
			res, err := client.Chat.Completions.New(context.Background(), tpChat("gpt-4o-mini"))
			if err == nil && len(res.Choices) != 1 {
				err = errors.New("no choice")
			}
			return err
		})

		require.Empty(t, errs, "no error, and no 429, reaches the SDK")
		st := s.Stats()
		assert.Equal(t, 200, st.Accepted)
		// The server's rate-limit headers bring the limiter down to the
		// server's limit before a 429 can happen; any that does is absorbed.
		assert.Equal(t, 600, l.RPM(), "the limit the server reports")
		assert.EqualValues(t, st.Rejected429, l.Stats().RateLimited, "every 429 is absorbed by the transport")
		// The server's bucket holds 10 requests and refills 10 a second.
		assert.LessOrEqual(t, s.MaxInWindow(time.Second), 10+10)
		assert.GreaterOrEqual(t, time.Since(start), 19*time.Second, "200 requests at 600 RPM with a full bucket of 10")
		assertSettled(t, l, 200)
	})
}

func TestTransportOpenAINoRateLimitAtServerRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600, Window: fakeprovider.FixedSecond})
		l := newLimiter(t, 600)
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		// Start on a second boundary, as the server counts wall seconds.
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

		errs := runParallel(20, 100, func() error {
			_, err := client.Chat.Completions.New(context.Background(), tpChat("gpt-4o-mini"))
			return err
		})

		require.Empty(t, errs)
		assert.Equal(t, fakeprovider.Stats{Requests: 100, Accepted: 100, Tokens: s.Stats().Tokens}, s.Stats())
		for _, sec := range s.PerSecond() {
			assert.LessOrEqual(t, sec.Accepted, 10, "second %v", sec.Start)
		}
		assert.Zero(t, l.Stats().Pauses)
		assertSettled(t, l, 100)
	})
}

func TestTransportAnthropicAbsorbsRateLimitsAndOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		s.Overloaded(3)
		l := newLimiter(t, 1200)
		client := tpAnthropic(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))

		errs := runParallel(20, 200, func() error {
			msg, err := client.Messages.New(context.Background(), tpMessage())
			if err == nil && len(msg.Content) != 1 {
				err = errors.New("no content")
			}
			return err
		})

		require.Empty(t, errs)
		st := s.Stats()
		assert.Equal(t, 200, st.Accepted)
		assert.Equal(t, 3, st.Overloaded529, "the injected 529s were retried")
		assert.Positive(t, st.Overloaded529)
		assert.EqualValues(t, st.Rejected429+st.Overloaded529, l.Stats().RateLimited)
		assert.LessOrEqual(t, s.MaxInWindow(time.Second), 10+10)
		assertSettled(t, l, 200)
	})
}

func TestTransportStreamingHoldsTicketUntilClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600, LatencyMedian: 200 * time.Millisecond, Seed: 1})
		l := newLimiter(t, 600)
		tr := tpTransport(t, s.Transport(), WithLimiter(l))
		ctx := context.Background()

		oc := tpOpenAI(fakeURL, tr)
		stream := oc.Chat.Completions.NewStreaming(ctx, tpChat("gpt-4o-mini"))
		chunks := 0
		for stream.Next() {
			if chunks == 0 {
				assert.Equal(t, 1, l.Stats().InFlight, "the ticket is held while the stream runs")
			}
			chunks++
		}
		require.NoError(t, stream.Err())
		require.NoError(t, stream.Close())
		assert.Greater(t, chunks, 1)
		assertSettled(t, l, 1)

		ac := tpAnthropic(fakeURL, tr)
		as := ac.Messages.NewStreaming(ctx, tpMessage())
		msg := anthropic.Message{}
		events := 0
		for as.Next() {
			if events == 0 {
				assert.Equal(t, 1, l.Stats().InFlight)
			}
			events++
			require.NoError(t, msg.Accumulate(as.Current()))
		}
		require.NoError(t, as.Err())
		require.NoError(t, as.Close())
		require.Len(t, msg.Content, 1)
		assert.NotEmpty(t, msg.Content[0].Text)
		assertSettled(t, l, 2)

		// A rate-limited stream is retried like any request.
		s.SetRPM(60)
		time.Sleep(time.Minute)
		res := runParallel(3, 3, func() error {
			st := oc.Chat.Completions.NewStreaming(ctx, tpChat("gpt-4o-mini"))
			for st.Next() {
			}
			return errors.Join(st.Err(), st.Close())
		})
		require.Empty(t, res)
		assert.Positive(t, l.Stats().RateLimited)
		assertSettled(t, l, 5)
	})
}

func TestTransportRoutesByModel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor()
		t.Cleanup(func() { m.Stop() })
		svc := NewService("fake", nil)
		mini, err := svc.NewLimiter("gpt-4o-mini", 600, WithMonitor(m))
		require.NoError(t, err)
		big, err := svc.NewLimiter("gpt-4o", 120, WithMonitor(m))
		require.NoError(t, err)
		s := tpProvider(t, fakeprovider.Config{RPM: 6000})
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithServiceLimiters(svc)))
		ctx := context.Background()

		for range 3 {
			_, err := client.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
			require.NoError(t, err)
		}
		for range 2 {
			_, err := client.Chat.Completions.New(ctx, tpChat("gpt-4o"))
			require.NoError(t, err)
		}
		assert.EqualValues(t, 3, mini.Stats().Requested)
		assert.EqualValues(t, 2, big.Stats().Requested)
		assertSettled(t, mini, 3)
		assertSettled(t, big, 2)

		// A model without a limiter, and no default one: not sent.
		_, err = client.Chat.Completions.New(ctx, tpChat("o3"))
		require.ErrorIs(t, err, ErrNoLimiter)
		require.ErrorContains(t, err, `NewLimiter("o3", rpm)`)
		assert.Equal(t, 5, s.Stats().Requests)

		// With a default limiter, unknown models share it.
		def, err := svc.NewLimiter("", 600, WithMonitor(m))
		require.NoError(t, err)
		_, err = client.Chat.Completions.New(ctx, tpChat("o3"))
		require.NoError(t, err)
		assertSettled(t, def, 1)

		// Gemini names the model in the path.
		gem, err := svc.NewLimiter("gemini-2.5-flash", 600, WithMonitor(m))
		require.NoError(t, err)
		var seen string
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			seen = r.URL.Path
			return jsonResponse(r, http.StatusOK, nil, `{}`), nil
		})
		hc := tpTransport(t, rt, WithServiceLimiters(svc)).Client()
		resp, err := hc.Post(fakeURL+"/v1beta/models/gemini-2.5-flash:generateContent", "application/json", strings.NewReader(`{"contents":[]}`))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, "/v1beta/models/gemini-2.5-flash:generateContent", seen)
		assertSettled(t, gem, 1)
	})
}

func TestTransportQuotaExhaustedIsNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		s.QuotaExhausted("", true)
		l := newLimiter(t, 600)
		tr := tpTransport(t, s.Transport(), WithLimiter(l))
		start := time.Now()

		oc, ac := tpOpenAI(fakeURL, tr), tpAnthropic(fakeURL, tr)
		_, err := oc.Chat.Completions.New(context.Background(), tpChat("gpt-4o-mini"))
		var oe *openai.Error
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, http.StatusTooManyRequests, oe.StatusCode)
		assert.Equal(t, "insufficient_quota", oe.Code, "the SDK decodes the body the transport read")

		_, err = ac.Messages.New(context.Background(), tpMessage())
		var ae *anthropic.Error
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusTooManyRequests, ae.StatusCode)
		assert.Contains(t, ae.RawJSON(), "enforced_spend_limit_reached")

		assert.Less(t, time.Since(start), 200*time.Millisecond, "no pause, only the limiter's pacing")
		assert.Equal(t, 2, s.Stats().Requests, "one request each, no retry")
		st := l.Stats()
		assert.False(t, st.Paused)
		assert.Zero(t, st.Pauses)
		assert.Zero(t, st.RateLimited)
		assertSettled(t, l, 2)
	})
}

func TestTransportShouldRetryFalseIsQuota(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		var calls atomic.Int32
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			h := http.Header{"X-Should-Retry": {"false"}, "Retry-After": {"1"}}
			return jsonResponse(r, http.StatusTooManyRequests, h, `{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`), nil
		})
		resp, err := tpTransport(t, rt, WithLimiter(l)).Client().Post(fakeURL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Contains(t, string(body), "rate_limit_exceeded")
		assert.EqualValues(t, 1, calls.Load())
		assert.False(t, l.Stats().Paused)
		assertSettled(t, l, 1)
	})
}

func TestTransportCancelWhileWaitingForTicket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		l := newLimiter(t, 60)
		held, err := l.Acquire(context.Background()) // the only ticket of this second
		require.NoError(t, err)
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))

		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err = client.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "returns as soon as ctx ends")
		assert.Zero(t, s.Stats().Requests)

		held.Done()
		st := l.Stats()
		assert.EqualValues(t, 1, st.Cancelled)
		assertSettled(t, l, 1)
	})
}

func TestTransportCancelWhileWaitingToRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		s.Outage(5 * time.Minute) // within the SDK's own request timeout
		l := newLimiter(t, 600)
		client := tpAnthropic(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(2*time.Second, cancel)
		start := time.Now()
		_, err := client.Messages.New(ctx, tpMessage())
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 2*time.Second, time.Since(start))
		assert.Equal(t, 1, s.Stats().Requests)
		st := l.Stats()
		assert.True(t, st.Paused, "the outage paused the limiter")
		assert.EqualValues(t, 1, st.RateLimited)
		assert.EqualValues(t, 1, st.Cancelled)
		assertSettled(t, l, 0)
	})
}

func TestTransportReturnsA429ItCannotRetryBeforeTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		s.Outage(time.Hour) // every answer: 429, retry after an hour
		l := newLimiter(t, 600)
		client := tpAnthropic(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := client.Messages.New(ctx, tpMessage())
		var ae *anthropic.Error
		require.ErrorAs(t, err, &ae, "the SDK gets the 429 itself")
		assert.Equal(t, http.StatusTooManyRequests, ae.StatusCode)
		assert.Zero(t, time.Since(start), "at once, not at the deadline")
		assert.Equal(t, 1, s.Stats().Requests)
		st := l.Stats()
		assert.True(t, st.Paused, "the outage paused the limiter")
		assert.EqualValues(t, 1, st.Cancelled)
		assertSettled(t, l, 0)
	})
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// jsonResponse returns a response to r with status, headers h and body.
func jsonResponse(r *http.Request, status int, h http.Header, body string) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return &http.Response{
		Status:        http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// replayServer answers 429 to the first fails requests and 200 after,
// recording every body it receives.
type replayServer struct {
	mu     sync.Mutex
	fails  int
	bodies []string
}

func (s *replayServer) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodies = append(s.bodies, string(body))
	if len(s.bodies) <= s.fails {
		h := http.Header{"Retry-After": {"1"}}
		return jsonResponse(r, http.StatusTooManyRequests, h, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`), nil
	}
	return jsonResponse(r, http.StatusOK, nil, `{"ok":true}`), nil
}

// onlyReader hides every method of a reader but Read, so that
// http.NewRequest cannot set GetBody.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestTransportReplaysBody(t *testing.T) {
	const payload = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`
	cases := map[string]func() io.Reader{
		"with GetBody":    func() io.Reader { return strings.NewReader(payload) },
		"without GetBody": func() io.Reader { return onlyReader{strings.NewReader(payload)} },
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600)
				srv := &replayServer{fails: 2}
				tr := tpTransport(t, srv, WithLimiter(l))
				req, err := http.NewRequest(http.MethodPost, fakeURL+"/v1/chat/completions", body())
				require.NoError(t, err)
				hadGetBody := req.GetBody != nil
				start := time.Now()

				resp, err := tr.Client().Do(req)
				require.NoError(t, err)
				got, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())

				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.JSONEq(t, `{"ok":true}`, string(got))
				assert.Equal(t, []string{payload, payload, payload}, srv.bodies, "the server receives the same body each time")
				assert.GreaterOrEqual(t, time.Since(start), time.Second, "the retry waited for the server's hint")
				assert.Equal(t, hadGetBody, req.GetBody != nil, "the caller's request is not modified")
				st := l.Stats()
				assert.EqualValues(t, 2, st.RateLimited)
				assertSettled(t, l, 1)
			})
		})
	}
}

func TestTransportGivesUpAfterMaxRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithMaxRetries(2))
		srv := &replayServer{fails: 1000}
		client := tpOpenAI(fakeURL, tpTransport(t, srv, WithLimiter(l)))

		_, err := client.Chat.Completions.New(context.Background(), tpChat("gpt-4o-mini"))
		var oe *openai.Error
		require.ErrorAs(t, err, &oe, "the last 429 reaches the SDK with its body")
		assert.Equal(t, http.StatusTooManyRequests, oe.StatusCode)
		assert.Equal(t, "rate_limit_exceeded", oe.Code)
		assert.Len(t, srv.bodies, 3, "1 attempt + 2 retries")
		st := l.Stats()
		assert.EqualValues(t, 3, st.RateLimited)
		assert.True(t, st.Paused, "the last rate limit still pauses the limiter")
		assertSettled(t, l, 1)
	})
}

func TestTransportNetworkErrorFinishesTicket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		boom := errors.New("connection reset")
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			_ = r.Body.Close()
			return nil, boom
		})
		_, err := tpTransport(t, rt, WithLimiter(l)).Client().Post(fakeURL+"/x", "application/json", strings.NewReader(`{}`))
		require.ErrorIs(t, err, boom)
		assertSettled(t, l, 1)
	})
}

func TestTransportTicketFinishedOnceAtEOFOrClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return jsonResponse(r, http.StatusOK, nil, `{"ok":true}`), nil
		})
		hc := tpTransport(t, rt, WithLimiter(l)).Client()

		resp, err := hc.Get(fakeURL + "/a")
		require.NoError(t, err)
		assert.Equal(t, 1, l.Stats().InFlight)
		_, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, 0, l.Stats().InFlight, "finished at EOF")
		require.NoError(t, resp.Body.Close())
		assertSettled(t, l, 1)

		resp, err = hc.Get(fakeURL + "/b")
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, resp.Body.Close())
		assertSettled(t, l, 2)
	})
}

func TestTransportBodyTooLarge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		var calls atomic.Int32
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			return jsonResponse(r, http.StatusOK, nil, `{}`), nil
		})
		tr := tpTransport(t, rt, WithLimiter(l), WithMaxBodyBytes(10))
		req, err := http.NewRequest(http.MethodPost, fakeURL+"/x", onlyReader{bytes.NewReader(make([]byte, 11))})
		require.NoError(t, err)
		_, err = tr.Client().Do(req)
		require.ErrorIs(t, err, ErrBodyTooLarge)
		require.ErrorContains(t, err, "more than 10 bytes")
		assert.Zero(t, calls.Load())
		assert.Zero(t, l.Stats().Requested)

		// A body with GetBody is not buffered, whatever its size.
		resp, err := tr.Client().Post(fakeURL+"/x", "application/octet-stream", bytes.NewReader(make([]byte, 11)))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assertSettled(t, l, 1)
	})
}

func TestTransportOptions(t *testing.T) {
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	l, err := NewBucketRateLimiter(600, WithMonitor(m))
	require.NoError(t, err)
	svc := NewService("s", nil)

	_, err = NewTransport(nil, WithLimiter(l), WithServiceLimiters(svc))
	assert.Error(t, err, "both options")
	_, err = NewTransport(nil, WithLimiter(nil))
	assert.Error(t, err)
	_, err = NewTransport(nil, WithServiceLimiters(nil))
	assert.Error(t, err)
	_, err = NewTransport(nil, WithMaxBodyBytes(0))
	assert.Error(t, err)

	tr, err := NewTransport(nil, WithLimiter(l))
	require.NoError(t, err)
	assert.Same(t, http.DefaultTransport, tr.base)
	assert.Same(t, tr, tr.Client().Transport)

	tr, err = NewTransport(nil)
	require.NoError(t, err)
	assert.Same(t, DefaultLimiter(), tr.limiter)
}

func TestTransportDoClassifiesSDKErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 60})
		l := newLimiter(t, 600) // ten times what the server allows
		ctx := context.Background()
		// No Transport here: Do sees the SDKs' own errors.
		oc := tpOpenAI(fakeURL, s.Transport())
		ac := tpAnthropic(fakeURL, s.Transport())

		_, err := oc.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
		require.NoError(t, err)
		_, err = oc.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
		var oe *openai.Error
		require.ErrorAs(t, err, &oe)
		c := DefaultClassifier(err)
		assert.Equal(t, KindRateLimited, c.Kind, "*openai.Error 429")
		assert.Positive(t, c.RetryAfter, "hint read from the error's Response")

		s.Overloaded(1)
		_, err = ac.Messages.New(ctx, tpMessage())
		var ae *anthropic.Error
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 529, ae.StatusCode)
		assert.Equal(t, KindOverloaded, DefaultClassifier(err).Kind, "*anthropic.Error 529")

		time.Sleep(time.Minute)
		before := s.Stats()
		errs := runParallel(5, 5, func() error {
			_, err := Do(ctx, l, func(ctx context.Context) (*openai.ChatCompletion, error) {
				return oc.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
			})
			return err
		})
		require.Empty(t, errs)
		after := s.Stats()
		assert.Equal(t, 5, after.Accepted-before.Accepted)
		assert.Positive(t, after.Rejected429-before.Rejected429)
		assert.EqualValues(t, after.Rejected429-before.Rejected429, l.Stats().RateLimited)
		assertSettled(t, l, 5)
	})
}

// TestTransportLoopback runs both SDKs against a real server on 127.0.0.1.
func TestTransportLoopback(t *testing.T) {
	s, url, stop, err := fakeprovider.Start(fakeprovider.Config{RPM: 1200})
	require.NoError(t, err)
	t.Cleanup(stop)
	l := newLimiter(t, 2400)
	tr := tpTransport(t, nil, WithLimiter(l))
	t.Cleanup(tr.CloseIdleConnections)
	oc := tpOpenAI(url, tr)
	ac := tpAnthropic(url, tr)
	ctx := context.Background()

	var n atomic.Int32
	errs := runParallel(8, 40, func() error {
		if n.Add(1)%2 == 0 {
			_, err := ac.Messages.New(ctx, tpMessage())
			return err
		}
		_, err := oc.Chat.Completions.New(ctx, tpChat("gpt-4o-mini"))
		return err
	})
	require.Empty(t, errs)

	stream := ac.Messages.NewStreaming(ctx, tpMessage())
	for stream.Next() {
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())

	st := s.Stats()
	assert.Equal(t, 41, st.Accepted)
	assert.EqualValues(t, st.Rejected429, l.Stats().RateLimited)
	assert.LessOrEqual(t, s.MaxInWindow(time.Second), 20+20)
	assertSettled(t, l, 41)
}

func TestTransport503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		var calls atomic.Int32
		hinted := true
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if calls.Add(1) == 1 {
				h := http.Header{}
				if hinted {
					h.Set("Retry-After", "2")
				}
				return jsonResponse(r, http.StatusServiceUnavailable, h, `{"error":{"message":"busy"}}`), nil
			}
			return jsonResponse(r, http.StatusOK, nil, `{}`), nil
		})
		hc := tpTransport(t, rt, WithLimiter(l)).Client()

		start := time.Now()
		resp, err := hc.Get(fakeURL + "/x")
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusOK, resp.StatusCode, "a 503 with Retry-After is retried")
		assert.GreaterOrEqual(t, time.Since(start), 2*time.Second)
		assert.EqualValues(t, 1, l.Stats().RateLimited)
		assertSettled(t, l, 1)

		time.Sleep(time.Minute)
		calls.Store(0)
		hinted = false
		resp, err = hc.Get(fakeURL + "/x")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a bare 503 is handed on")
		assert.Contains(t, string(body), "busy")
		assert.EqualValues(t, 1, calls.Load())
		assert.EqualValues(t, 1, l.Stats().RateLimited)
		assertSettled(t, l, 2)
	})
}

// refuseOnceThen starts a real server on 127.0.0.1 that answers the first
// request with a 429 and a 20 ms hint, and every later one with then. It
// returns the server and its count of requests.
func refuseOnceThen(t *testing.T, then http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("retry-after-ms", "20")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		then(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

// TestTransportCanaryWithoutAnswerKeepsThePause runs against a server that
// refuses the first request and never answers the retry.
func TestTransportCanaryWithoutAnswerKeepsThePause(t *testing.T) {
	testDone := make(chan struct{})
	srv, calls := refuseOnceThen(t, func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up, or the test ends
		case <-r.Context().Done():
		case <-testDone:
		}
	})
	t.Cleanup(func() { close(testDone) })
	l := newLimiter(t, 600)
	tr := tpTransport(t, nil, WithLimiter(l))
	t.Cleanup(tr.CloseIdleConnections)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(`{}`))
	require.NoError(t, err)
	_, err = tr.Client().Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 2, calls.Load(), "the retry went out as the canary")
	st := l.Stats()
	assert.True(t, st.Paused, "a canary without an answer does not end the pause")
	assert.EqualValues(t, 0, st.InFlight)
}

// TestTransportCanaryAnsweredWithAServerErrorKeepsThePause runs against a
// server that refuses the first request and fails the retry with a 500: an
// answer that says nothing about the rate limit.
func TestTransportCanaryAnsweredWithAServerErrorKeepsThePause(t *testing.T) {
	srv, calls := refuseOnceThen(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal error", http.StatusInternalServerError)
	})
	l := newLimiter(t, 600)
	tr := tpTransport(t, nil, WithLimiter(l))
	t.Cleanup(tr.CloseIdleConnections)

	resp, err := tr.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.EqualValues(t, 2, calls.Load(), "the retry went out as the canary")
	st := l.Stats()
	assert.True(t, st.Paused, "a server error does not end the pause")
	assert.EqualValues(t, 0, st.InFlight)
}

// TestTransportCanaryResumesWhenItsAnswerBegins runs against a server that
// refuses the first request and streams the retry's body slowly: the pause
// ends when the canary's status and headers arrive, not when its stream
// does.
func TestTransportCanaryResumesWhenItsAnswerBegins(t *testing.T) {
	release := make(chan struct{})
	srv, calls := refuseOnceThen(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "data: {}\n\n")
		w.(http.Flusher).Flush()
		select { // the rest of the stream, once the test has looked
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	})
	l := newLimiter(t, 600)
	tr := tpTransport(t, nil, WithLimiter(l))
	t.Cleanup(tr.CloseIdleConnections)

	resp, err := tr.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 2, calls.Load(), "the retry went out as the canary")
	st := l.Stats()
	assert.False(t, st.Paused, "the canary's answer has begun: the server accepts requests")
	assert.EqualValues(t, 1, st.InFlight, "its stream still holds the ticket")
	close(release)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.EqualValues(t, 0, l.Stats().InFlight)
	assertConserved(t, l)
}

// refuseEveryOther answers status (with a 20 ms hint) to odd calls and 200
// to even ones.
func refuseEveryOther(t *testing.T, status int) *httptest.Server {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 1 {
			w.Header().Set("retry-after-ms", "20")
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTransportOverloadsTeachNothing runs against servers that refuse
// every other call, with 529 or with 429: each refusal pauses, but only
// the 429s lower the limit, whether the transport retries or gives up.
func TestTransportOverloadsTeachNothing(t *testing.T) {
	for _, tc := range overloadCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := refuseEveryOther(t, tc.status)
			l := newLimiter(t, 1200, WithMaxRetries(tc.maxRetries))
			tr := tpTransport(t, nil, WithLimiter(l))
			t.Cleanup(tr.CloseIdleConnections)
			for range tc.calls() {
				resp, err := tr.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				require.NoError(t, resp.Body.Close())
			}
			assert.EqualValues(t, 2, l.Stats().Pauses)
			assert.Equal(t, tc.want, l.RPM())
			assertConserved(t, l)
		})
	}
}
