package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/genai"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/exampletest"
)

// These tests drive the limiter's transport with Google's own Go SDK,
// google.golang.org/genai, against real servers on 127.0.0.1. Each server
// is started before its synctest bubble, and the transport under the
// limiter keeps no idle connection (a goroutine reading an idle connection
// would keep virtual time from advancing): inside the bubble, time stands
// still while a request is on the network and jumps while the limiter
// waits.

// TestMain fails the run if any goroutine outlives the tests, but for the
// one go.opencensus.io starts when it is loaded and never stops (its stats
// worker): genai imports it through cloud.google.com/go/auth/httptransport.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}

const flash, pro = "gemini-2.5-flash", "gemini-2.5-pro"

// newClient returns a genai client for the Gemini API at baseURL that
// sends through rt, with the SDK's own retries off (its default).
func newClient(t *testing.T, baseURL string, rt http.RoundTripper) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      "test",
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{Transport: rt},
		HTTPOptions: genai.HTTPOptions{BaseURL: baseURL},
	})
	require.NoError(t, err)
	return c
}

// limitedClient returns a limiter of 600 RPM and a genai client for the
// Gemini API at baseURL whose calls take its tickets, over base.
func limitedClient(t *testing.T, baseURL string, base http.RoundTripper) (*ratellmiter.BucketRateLimiter, *genai.Client) {
	t.Helper()
	l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
	require.NoError(t, err)
	return l, newClient(t, baseURL, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
}

func startFake(t *testing.T, rpm, burst int, now func() time.Time) *fakeGemini {
	f := newFakeGemini(rpm, burst, now)
	f.start()
	t.Cleanup(f.close)
	return f
}

var hello = genai.Text("Say hello in five words.")

// Requests go to the limiter of the model in their URL path, whichever
// way the model is named to the SDK, streamed or not; a model the service
// has no limiter for fails without being sent.
func TestRequestsTakeTheTicketOfTheirModel(t *testing.T) {
	fake := startFake(t, 6000, 100, nil)
	mon := exampletest.NewMonitor(t)
	svc := ratellmiter.NewService("gemini", nil)
	t.Cleanup(func() { _ = svc.Close() })
	lFlash, err := svc.NewLimiter(flash, 600, ratellmiter.WithMonitor(mon))
	require.NoError(t, err)
	lPro, err := svc.NewLimiter(pro, 600, ratellmiter.WithMonitor(mon))
	require.NoError(t, err)
	c := newClient(t, fake.srv.URL, exampletest.NewTransport(t, exampletest.NoKeepAlive(t, nil), ratellmiter.WithServiceLimiters(svc)))
	ctx := context.Background()

	for _, model := range []string{flash, "models/" + flash, flash, pro} {
		_, err := c.Models.GenerateContent(ctx, model, hello, nil)
		require.NoError(t, err, model)
	}
	chunks := 0
	for _, err := range c.Models.GenerateContentStream(ctx, pro, hello, nil) {
		require.NoError(t, err)
		chunks++
	}
	assert.Equal(t, len(reply), chunks)

	assert.Equal(t, 3, fake.Accepted(flash))
	assert.Equal(t, 2, fake.Accepted(pro))
	sf, sp := lFlash.Stats(), lPro.Stats()
	assert.Equal(t, [2]uint64{3, 3}, [2]uint64{sf.Issued, sf.Finished}, "%s: issued, finished", flash)
	assert.Equal(t, [2]uint64{2, 2}, [2]uint64{sp.Issued, sp.Finished}, "%s: issued, finished", pro)
	assert.Zero(t, sf.InFlight+sp.InFlight, "the stream's ticket is finished with the stream")

	_, err = c.Models.GenerateContent(ctx, "gemini-2.0-flash", hello, nil)
	require.ErrorIs(t, err, ratellmiter.ErrNoLimiter)
	assert.Equal(t, 5, fake.Stats().Requests, "a request without a limiter is not sent")
}

// pngOf returns a PNG image of w by h pixels.
func pngOf(t *testing.T, w, h int) []byte {
	var b bytes.Buffer
	require.NoError(t, png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))))
	return b.Bytes()
}

// usageServer answers generateContent with usage and, for a stream, its
// first chunk at once and its last, which alone counts the output, once
// release is closed.
func usageServer(t *testing.T, usage string, release <-chan struct{}) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		cand := `"candidates":[{"content":{"parts":[{"text":"Hi."}],"role":"model"},"index":0}]`
		if strings.HasSuffix(r.URL.Path, ":streamGenerateContent") {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, `data: {`+cand+`,"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}}`+"\r\n\r\n")
			w.(http.Flusher).Flush()
			<-release
			_, _ = io.WriteString(w, `data: {`+cand+`,"usageMetadata":`+usage+`}`+"\r\n\r\n")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = io.WriteString(w, `{`+cand+`,"usageMetadata":`+usage+`}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// budgetLimiter returns a limiter of budget input and budget output tokens
// a minute, all banked, which issues 100,000 tickets a second (one every
// ticketGap, in which its token budgets refill by budget/6,000,000).
func budgetLimiter(t *testing.T, budget int) *ratellmiter.BucketRateLimiter {
	t.Helper()
	l, err := ratellmiter.NewBucketRateLimiter(6_000_000, ratellmiter.WithMonitor(exampletest.NewMonitor(t)),
		ratellmiter.WithInputTokensPerMinute(budget), ratellmiter.WithOutputTokensPerMinute(budget),
		ratellmiter.WithTokenBurst(time.Minute))
	require.NoError(t, err)
	return l
}

// ticketGap is the time between the tickets of a budgetLimiter.
const ticketGap = 10 * time.Microsecond

// fitsTokens reports whether a ticket of a budgetLimiter for in and out
// tokens would be issued once its next request slot is due, and gives it
// back at once.
func fitsTokens(l *ratellmiter.BucketRateLimiter, in, out int) bool {
	time.Sleep(ticketGap)
	tk, ok := l.TryAcquire(ratellmiter.WithTokens(in, out))
	if ok {
		tk.Used(0, 0)
		tk.Done()
	}
	return ok
}

// assertCharged checks what the budgets of a budgetLimiter of budget
// tokens hold charged to the calls in flight: an input charge in [inLo,
// inHi], and exactly out.
func assertCharged(t *testing.T, l *ratellmiter.BucketRateLimiter, budget, inLo, inHi, out int) {
	t.Helper()
	assert.False(t, fitsTokens(l, budget-inLo+1, 0), "input charged at least %d", inLo)
	assert.True(t, fitsTokens(l, budget-inHi, 0), "input charged at most %d", inHi)
	assert.False(t, fitsTokens(l, 0, budget-out+1), "output charged at least %d", out)
	assert.True(t, fitsTokens(l, 0, budget-out), "output charged at most %d", out)
}

// A generateContent call is charged its estimate while it runs (its
// contents and systemInstruction at four bytes a token, its inline image
// by Gemini's tiles, maxOutputTokens times candidateCount), and then what
// its usageMetadata reports: promptTokenCount as input,
// candidatesTokenCount plus thoughtsTokenCount as output. A streamed call
// keeps its estimate until its last chunk, whose usageMetadata corrects
// it.
func TestTokensAreChargedTheEstimateThenTheUsage(t *testing.T) {
	const budget = 60000 // input and output tokens a minute, all banked
	// Text of 8,000 and 4,000 bytes, about 3,000 tokens, and an image of
	// 1600x800 px: 3x2 tiles of 258 tokens.
	const textTokens, imageTokens, outputCap = 3000, 6 * 258, 3000
	const usage = `{"promptTokenCount":7,"candidatesTokenCount":30,"thoughtsTokenCount":20,"totalTokenCount":57}`
	contents := []*genai.Content{genai.NewContentFromParts([]*genai.Part{
		genai.NewPartFromText(strings.Repeat("word ", 1600)),
		genai.NewPartFromBytes(pngOf(t, 1600, 800), "image/png"),
	}, genai.RoleUser)}
	gc := &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText(strings.Repeat("cat. ", 800), genai.RoleUser),
		MaxOutputTokens:   1000,
		CandidateCount:    3,
	}

	charged := func(t *testing.T, l *ratellmiter.BucketRateLimiter, inLo, inHi, out int) {
		t.Helper()
		assertCharged(t, l, budget, inLo, inHi, out)
	}
	newLimiter := func(t *testing.T) *ratellmiter.BucketRateLimiter { return budgetLimiter(t, budget) }
	estimateLo, estimateHi := textTokens+imageTokens, textTokens+imageTokens+100

	t.Run("generateContent", func(t *testing.T) {
		srv := usageServer(t, usage, nil)
		base := exampletest.NoKeepAlive(t, nil)
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t)
			// The call stops under the limiter's transport, its ticket
			// issued, until the budgets have been checked.
			sent, release := make(chan string), make(chan struct{})
			gate := exampletest.RoundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent <- r.URL.Path
				<-release
				return base.RoundTrip(r)
			})
			c := newClient(t, srv.URL, exampletest.NewTransport(t, gate, ratellmiter.WithLimiter(l)))
			errc := make(chan error)
			go func() {
				_, err := c.Models.GenerateContent(context.Background(), flash, contents, gc)
				errc <- err
			}()
			assert.Equal(t, "/v1/models/"+flash+":generateContent", <-sent)
			charged(t, l, estimateLo, estimateHi, outputCap)
			close(release)
			require.NoError(t, <-errc)
			charged(t, l, 7, 7, 30+20)
		})
	})

	t.Run("streamGenerateContent", func(t *testing.T) {
		release := make(chan struct{})
		srv := usageServer(t, usage, release)
		unblock := sync.OnceFunc(func() { close(release) })
		t.Cleanup(unblock) // before the server's Close, should the test fail
		base := exampletest.NoKeepAlive(t, nil)
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t)
			c := newClient(t, srv.URL, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
			next, stop := iter.Pull2(c.Models.GenerateContentStream(context.Background(), flash, contents, gc))
			defer stop()
			_, err, ok := next()
			require.True(t, ok)
			require.NoError(t, err)
			// The first chunk reports the prompt alone: the estimate
			// holds until the last.
			charged(t, l, estimateLo, estimateHi, outputCap)
			unblock()
			_, err, ok = next()
			require.True(t, ok)
			require.NoError(t, err)
			_, _, ok = next()
			require.False(t, ok, "the stream is over")
			charged(t, l, 7, 7, 30+20)
			assert.Zero(t, l.Stats().InFlight)
		})
	})
}

// retryInfo429 is Gemini's answer to a request over a per-minute quota.
func retryInfo429(delay time.Duration) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "You exceeded your current quota.",
		"details": rateLimitDetails(flash, 15, delay),
	}})
	return b
}

// perDay429 is Gemini's answer to a request over a per-day quota.
const perDay429 = `{"error":{"code":429,"message":"You exceeded your current quota, please check your plan and billing details.","status":"RESOURCE_EXHAUSTED","details":[
{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier","quotaDimensions":{"location":"global","model":"gemini-2.5-pro"},"quotaValue":"50"}]},
{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"43.5s"}]}}`

// refusingServer answers the first request with status and body, and
// every later one with a plain answer; it counts the requests.
func refusingServer(t *testing.T, status int, header http.Header, body []byte) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		if calls.Add(1) == 1 {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
		_ = json.NewEncoder(w).Encode(answer(flash, "Hello.", 7, 3, true))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// A 429 RESOURCE_EXHAUSTED over a per-minute quota pauses the limiter for
// its RetryInfo's retryDelay; the transport then sends the call again and
// the SDK sees only the answer.
func TestRetryDelayPausesTheLimiterAndTheCallIsRetried(t *testing.T) {
	srv, calls := refusingServer(t, http.StatusTooManyRequests, nil, retryInfo429(2*time.Second))
	base := exampletest.NoKeepAlive(t, nil)
	synctest.Test(t, func(t *testing.T) {
		l, c := limitedClient(t, srv.URL, base)
		start := time.Now()
		res, err := c.Models.GenerateContent(context.Background(), flash, hello, nil)
		require.NoError(t, err, "the 429 never reaches the SDK")
		assert.Equal(t, "Hello.", res.Text())
		assert.Equal(t, 2*time.Second, time.Since(start), "retried when the retryDelay is over")
		assert.EqualValues(t, 2, calls.Load())
		st := l.Stats()
		assert.EqualValues(t, 1, st.Pauses)
		assert.EqualValues(t, 1, st.RateLimited)
		assert.False(t, st.Paused, "the retry resumed the limiter")
		assert.EqualValues(t, 1, st.Finished)
	})
}

// A 429 RESOURCE_EXHAUSTED whose QuotaFailure names a per-day quota is
// handed to the SDK at once, as its APIError, without pausing the limiter.
func TestPerDayQuotaIsReturnedAtOnce(t *testing.T) {
	srv, calls := refusingServer(t, http.StatusTooManyRequests, nil, []byte(perDay429))
	base := exampletest.NoKeepAlive(t, nil)
	synctest.Test(t, func(t *testing.T) {
		l, c := limitedClient(t, srv.URL, base)
		start := time.Now()
		_, err := c.Models.GenerateContent(context.Background(), pro, hello, nil)
		var apiErr genai.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusTooManyRequests, apiErr.Code)
		assert.Equal(t, "RESOURCE_EXHAUSTED", apiErr.Status)
		require.NotEmpty(t, apiErr.Details)
		assert.Contains(t, apiErr.Details[0]["violations"], map[string]any{
			"quotaMetric":     "generativelanguage.googleapis.com/generate_content_free_tier_requests",
			"quotaId":         "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
			"quotaDimensions": map[string]any{"location": "global", "model": "gemini-2.5-pro"},
			"quotaValue":      "50",
		})
		assert.Zero(t, time.Since(start), "no wait")
		assert.EqualValues(t, 1, calls.Load(), "no retry")
		st := l.Stats()
		assert.Zero(t, st.Pauses, "a used-up daily quota pauses nothing")
		assert.False(t, st.Paused)
		assert.Zero(t, st.InFlight)

		_, err = c.Models.GenerateContent(context.Background(), pro, hello, nil)
		require.NoError(t, err)
		assert.Equal(t, 100*time.Millisecond, time.Since(start), "the next call waits only for its slot at 600 RPM")
	})
}

// A 503 UNAVAILABLE is an overload: with a Retry-After it pauses the
// limiter and is retried; without one it is handed to the SDK at once,
// as a server error that pauses nothing.
func TestUnavailableIsRetriedOnlyWithARetryAfter(t *testing.T) {
	const unavailable = `{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`
	for _, tc := range []struct {
		name       string
		header     http.Header
		wantErr    bool
		wantWait   time.Duration
		wantPauses uint64
	}{
		{"with Retry-After", http.Header{"Retry-After": {"3"}}, false, 3 * time.Second, 1},
		{"without", nil, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := refusingServer(t, http.StatusServiceUnavailable, tc.header, []byte(unavailable))
			base := exampletest.NoKeepAlive(t, nil)
			synctest.Test(t, func(t *testing.T) {
				l, c := limitedClient(t, srv.URL, base)
				start := time.Now()
				_, err := c.Models.GenerateContent(context.Background(), flash, hello, nil)
				if tc.wantErr {
					var apiErr genai.APIError
					require.ErrorAs(t, err, &apiErr)
					assert.Equal(t, http.StatusServiceUnavailable, apiErr.Code)
					assert.Equal(t, "UNAVAILABLE", apiErr.Status)
					assert.EqualValues(t, 1, calls.Load())
				} else {
					require.NoError(t, err)
					assert.EqualValues(t, 2, calls.Load())
				}
				assert.Equal(t, tc.wantWait, time.Since(start))
				assert.Equal(t, tc.wantPauses, l.Stats().Pauses)
			})
		})
	}
}

// The example, with the limiter at twice the fake endpoint's limit,
// learns the real limit from a few 429s, which the transport absorbs:
// every call succeeds, in little more time than the endpoint's limit
// takes.
func TestRunAbsorbsThe429sOfItsFake(t *testing.T) {
	var clock exampletest.VirtualClock
	fake := startFake(t, fakeRPM, fakeBurst, clock.Now)
	base := exampletest.NoKeepAlive(t, nil)
	synctest.Test(t, func(t *testing.T) {
		var out strings.Builder
		const n = 120
		sum, err := run(config{n: n, workers: 10, model: flash, fake: fake, base: clock.Stamped(base), out: &out})
		require.NoError(t, err, out.String())
		t.Log("\n" + out.String())
		assert.Empty(t, sum.failed)
		assert.Zero(t, sum.caller429, "no 429 reaches the caller")
		assert.Equal(t, len(reply), sum.chunks)

		fs := sum.server
		assert.Equal(t, n+1, fs.Accepted, "each call accepted once")
		assert.Positive(t, fs.Rejected429, "the limiter starts above the endpoint's limit")
		assert.LessOrEqual(t, fs.Rejected429, 10, "and soon learns it")
		st := sum.stats
		assert.EqualValues(t, fs.Rejected429, st.RateLimited, "every 429 seen by the limiter")
		assert.EqualValues(t, n+1, st.Finished)
		assert.Zero(t, st.InFlight)
		assert.Equal(t, 2*fakeRPM, st.ConfiguredRPM)
		assert.Equal(t, fakeRPM, st.LearnedRPM, "the learned limit is the endpoint's")
		// The endpoint admits its burst, then fakeRPM a minute.
		least := time.Duration(n+1-fakeBurst) * time.Minute / fakeRPM
		assert.GreaterOrEqual(t, sum.elapsed, least)
		assert.Less(t, sum.elapsed, least+5*time.Second)
		assert.Contains(t, out.String(), "121 accepted")
	})
}

// The SDK's errors wrap the limiter's: a call whose deadline comes before
// its ticket fails at once with ErrWouldExceedDeadline, and one whose
// context is cancelled while it waits fails with context.Canceled; neither
// is sent.
func TestCallsThatCannotWaitFailWithTheLimitersErrors(t *testing.T) {
	fake := startFake(t, 6000, 100, nil)
	base := exampletest.NoKeepAlive(t, nil)
	synctest.Test(t, func(t *testing.T) {
		l, err := ratellmiter.NewBucketRateLimiter(60, ratellmiter.WithMonitor(exampletest.NewMonitor(t)))
		require.NoError(t, err)
		c := newClient(t, fake.srv.URL, exampletest.NewTransport(t, base, ratellmiter.WithLimiter(l)))
		_, err = c.Models.GenerateContent(context.Background(), flash, hello, nil)
		require.NoError(t, err)
		start := time.Now()

		// At 60 RPM the next ticket is a second away.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err = c.Models.GenerateContent(ctx, flash, hello, nil)
		require.ErrorIs(t, err, ratellmiter.ErrWouldExceedDeadline)
		assert.Zero(t, time.Since(start), "failed at once")

		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		_, err = c.Models.GenerateContent(ctx, flash, hello, nil)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 300*time.Millisecond, time.Since(start), "waited until cancelled")

		assert.Equal(t, 1, fake.Stats().Requests, "neither was sent")
		st := l.Stats()
		assert.Zero(t, st.InFlight+st.Waiting)
	})
}
