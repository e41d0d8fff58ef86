package ratellmiter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// DefaultMaxBodyBytes is the largest request body the transport buffers, by
// default, to replay it on a retry or to read its model. See
// WithMaxBodyBytes.
const DefaultMaxBodyBytes = 32 << 20

// errTransportNotCreated refuses the requests of a Transport not created
// with NewTransport, which has no limiter to pace them with.
var errTransportNotCreated = fmt.Errorf("%w: the Transport was not created with NewTransport", ErrClosed)

// Transport is an http.RoundTripper that paces requests with a limiter. It
// takes a ticket before each request and finishes it when the response is
// over; it absorbs rate-limit answers (429, 529, and 503 with Retry-After)
// by pausing the limiter and sending the request again, at the front of the
// line, so that the client above it sees them only when retrying is
// hopeless. Create it with NewTransport; it is safe for concurrent use.
// The zero value sends nothing: it fails every request with an error
// wrapping ErrClosed.
//
// The official SDKs retry rate-limited calls themselves. Turn that off
// (option.WithMaxRetries(0) in the OpenAI and Anthropic Go SDKs) so that
// the transport's retries are not multiplied by the SDK's, and so that the
// SDK's own back-off does not fight the limiter's pacing.
type Transport struct {
	base     http.RoundTripper
	limiter  *BucketRateLimiter
	service  RateLimitedService
	maxBody  int64
	refs     refCosts          // what files given by reference were found to cost
	cache    promptCache       // the prompt prefixes the provider's cache holds
	outputs  outputMeans       // how much each model writes when it has no cap
	contexts learnedMap[int64] // the tokens each response the transport created holds
}

// TransportOption configures a Transport. The set of options is closed: use
// the With functions of this package that return a TransportOption.
type TransportOption interface {
	applyTransport(*transportConfig) error
}

type transportConfig struct {
	limiter    *BucketRateLimiter
	service    RateLimitedService
	maxBody    int64
	hasLimiter bool
	hasService bool
}

type transportOption func(*transportConfig) error

func (f transportOption) applyTransport(c *transportConfig) error { return f(c) }

// WithLimiter makes the transport take every ticket from l.
func WithLimiter(l *BucketRateLimiter) TransportOption {
	return transportOption(func(c *transportConfig) error {
		if l == nil {
			return errors.New("ratellmiter: WithLimiter: nil limiter")
		}
		c.limiter, c.hasLimiter = l, true
		return nil
	})
}

// WithServiceLimiters makes the transport take each request's ticket from
// s.Limiter(model), where model is the deployment an Azure OpenAI path
// names (/openai/deployments/NAME/chat/completions, whose quota is the
// deployment's, whatever model the body names), or else the "model"
// field of the request's JSON body (without a leading "models/", as
// Gemini's SDK writes it there, nor Vertex AI's
// "publishers/PUB/models/", with or without "projects/P/locations/L/"
// before it, of any publisher PUB; any other name whole, slashes
// included, as Fireworks' "accounts/A/models/NAME"), or,
// when the body has none, the model named in a Gemini-style URL path such
// as /v1beta/models/gemini-2.5-flash:generateContent ("tunedModels/NAME"
// for a tuned model's path, /v1beta/tunedModels/NAME:generateContent), or
// in an Amazon Bedrock path such as
// /model/anthropic.claude-3-5-haiku-20241022-v1:0/invoke (a model id, an
// inference profile or an ARN, unescaped), or the
// first "model" field of a multipart/form-data body (an audio
// transcription or translation, as the SDKs send them), read only as far
// as that field, from a copy of the body that GetBody gives, without
// keeping it. A body sent with Content-Encoding: gzip is decompressed to
// read it, and counts against WithMaxBodyBytes decompressed; a body of any
// other Content-Type (a file, say) is not read for it, nor is the body of
// a batch's creation (POST .../batches, as Anthropic's and OpenAI's), which
// names no model at its top and goes to s.Limiter(""). A request for which
// s has no limiter fails without being sent.
func WithServiceLimiters(s RateLimitedService) TransportOption {
	return transportOption(func(c *transportConfig) error {
		if isNil(s) {
			// A nil pointer would panic in every RoundTrip.
			return fmt.Errorf("ratellmiter: WithServiceLimiters: nil service (%T)", s)
		}
		c.service, c.hasService = s, true
		return nil
	})
}

// WithMaxBodyBytes sets the largest request body the transport reads into
// memory, DefaultMaxBodyBytes (32 MiB) unless changed. A body is read only
// when it must be: to find the model for WithServiceLimiters, to estimate
// its tokens for a limiter with a token budget (in both cases only a body
// whose Content-Type is JSON or unset; a multipart form is scanned for
// its model field without being kept), and to replay it on a retry
// when the request has no GetBody (requests made with http.NewRequest from
// a bytes.Reader, bytes.Buffer or strings.Reader, and those of the official
// SDKs, have one). A larger body makes the request fail before it is sent,
// unless it was read only for the token estimate: such a request is sent
// without one.
func WithMaxBodyBytes(n int64) TransportOption {
	return transportOption(func(c *transportConfig) error {
		if n <= 0 {
			return fmt.Errorf("ratellmiter: WithMaxBodyBytes(%d): must be > 0", n)
		}
		c.maxBody = n
		return nil
	})
}

// NewTransport returns an http.RoundTripper that takes a ticket before each
// request it sends through base (http.DefaultTransport when nil). The
// ticket comes from the limiter given WithLimiter, or per model from the
// service given WithServiceLimiters, or else from DefaultLimiter(); giving
// both options is an error.
//
// When the server answers 429, 529, or 503 with a Retry-After header, the
// transport reads the error body to tell a rate limit from an exhausted
// quota. A rate limit (or an overload) pauses the limiter with the server's
// hint and the request is sent again, with the same body, as soon as the
// limiter issues its ticket again, ahead of every new request; after the
// limiter's WithMaxRetries, or at once when the retry could not go out
// before the request context's deadline (or within WithMaxWait), or, for
// a request signed with AWS Signature Version 4 (as the AWS SDK signs it),
// within 4.5 minutes of when it reached the transport, since AWS refuses a
// signature five minutes old (the SDK signs its own retries anew), while
// the server reports its request budget of a day used up, or when the
// answer is an overload marked "x-should-retry: false", the last answer
// is returned as it is (but for an error body longer than 64 KiB, which is
// closed past its first 64 KiB once the retry waits, and so handed on cut
// when the limiter then refuses the retry). An exhausted quota (OpenAI's
// insufficient_quota, Anthropic's
// enforced_spend_limit_reached, Gemini's per-day quotas, or a 429 with
// "x-should-retry: false") is returned at once without pausing the
// limiter, since waiting cannot help; so is a request larger than the
// server's whole per-minute limit (OpenAI's 429 "Request too large for
// ..."). Either way the client sees the
// provider's own response and raises its own error.
//
// Any other response is returned with its body wrapped: the ticket is
// finished when the body is read to its end or closed, or when the
// request's context ends (net/http gives up on the body then), so a
// streamed response holds its ticket until the stream is over. Close every
// response body, as net/http requires anyway; a body dropped unclosed
// (anthropic-sdk-go drops one when its context ends as the answer arrives)
// holds its ticket until the request's context ends. A stream that
// answered 200 and then fails with an error event (Anthropic's "event:
// error" of type overloaded_error or rate_limit_error, the Responses
// API's error or response.failed with the code rate_limit_exceeded, an
// exception of Amazon Bedrock's event stream: throttlingException,
// serviceUnavailableException) pauses the limiter when its body ends or
// is closed, as a 529 (the limit not lowered) or a 429 would; it is not
// sent again, its answer having begun, and the SDK reports the error.
// A network error abandons the ticket
// (see Ticket.Abandon) and is returned as it is; an exhausted quota
// abandons it at once, and a server error (5xx) once its body is closed:
// neither says anything about the rate limit.
//
// While the transport reads a body it must keep (one without GetBody) or
// waits for a ticket it honours the request's context: when it ends,
// RoundTrip returns an error wrapping the context's error, which
// http.Client reports with the request's URL, and a body being read is
// closed, which stops a writer feeding it through an io.Pipe.
//
// Set the SDK's own retries to 0 (option.WithMaxRetries(0)) so that retries
// are not stacked.
func NewTransport(base http.RoundTripper, opts ...TransportOption) (*Transport, error) {
	cfg := transportConfig{maxBody: DefaultMaxBodyBytes}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyTransport(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.hasLimiter && cfg.hasService {
		return nil, errors.New("ratellmiter: NewTransport: WithLimiter and WithServiceLimiters are exclusive")
	}
	if base == nil {
		base = http.DefaultTransport
	}
	t := &Transport{base: base, limiter: cfg.limiter, service: cfg.service, maxBody: cfg.maxBody}
	if !cfg.hasLimiter && !cfg.hasService {
		if t.limiter = DefaultLimiter(); t.limiter == nil {
			return nil, ErrStopped
		}
	}
	return t, nil
}

// Client returns an http.Client that sends its requests through t.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// CloseIdleConnections closes the idle connections of the base transport,
// if it has such a method.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req under a ticket; see NewTransport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.base == nil {
		closeBody(req)
		return nil, errTransportNotCreated
	}
	counts := chargesNoTokens(req)
	jsonBody, boundary := bodyType(req)
	if streamsBody(req) {
		jsonBody, boundary = false, "" // no JSON to read: a stream of events
	}
	need := jsonBody && !createsBatch(req) && (t.service != nil || (t.limiter.tokenBudgeted() && !counts))
	out, body, err := t.prepare(req, need)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if body != nil && isGzip(req.Header) && (jsonBody || boundary != "") {
		// A compressed body names its model and costs its tokens as
		// the same body plain does. One that is no JSON nor form (a
		// file) is read for neither: it was buffered only to be sent
		// again.
		plain, tooLarge := gunzip(body, int(min(t.maxBody, math.MaxInt-1)))
		switch {
		case plain != nil:
			body = plain
		case tooLarge && t.service != nil:
			// Its model cannot be read, as a plain body that large.
			closeBody(out)
			return nil, fmt.Errorf("%w: more than %d bytes decompressed (see WithMaxBodyBytes)", ErrBodyTooLarge, t.maxBody)
		}
	}
	l := t.limiter
	var form formFields
	var model string
	if t.service != nil {
		model = modelOf(body, req)
		if model == "" && boundary != "" {
			// A transcription's file is read for its estimate in the
			// same pass, should its limiter have a token budget.
			if out, form, err = readFormFields(out, boundary, body, true, transcribes(req)); err != nil {
				closeBody(req)
				return nil, err
			}
			model = form.model
		}
		if l = t.service.Limiter(model); l == nil {
			closeBody(out)
			return nil, fmt.Errorf("%w: service %q has none for model %q and no default one (register it with NewLimiter(%q, rpm), or a default with NewLimiter(\"\", rpm))",
				ErrNoLimiter, t.service.ServiceName(), model, model)
		}
	}
	ctx := req.Context()
	signed, arrived := signedV4(req), l.now()
	var opts []AcquireOption
	var learn func(signals.Usage, string)
	// A body that is no JSON (an upload) is charged no estimate, but the
	// usage its answer reports; an audio transcription or translation is
	// charged its file's playing time.
	upload := req.Body != nil && req.Body != http.NoBody && !jsonBody
	tokens := (body != nil || upload) && l.tokenBudgeted() && !counts
	switch {
	case tokens && jsonBody && body != nil:
		if t.service == nil {
			// The body's model the estimate reads itself; a Gemini
			// request's is in its path.
			model = pathModel(req)
		}
		var est AcquireOption
		est, learn = t.estimate(l, req, body, model)
		opts = append(opts, est)
	case tokens && boundary != "" && transcribes(req):
		if !form.fileRead {
			next, f, err := readFormFields(out, boundary, body, false, true)
			if err != nil {
				closeBody(req)
				return nil, err
			}
			out, form = next, f
		}
		if form.audio != nil {
			opts = append(opts, form.audio)
		}
	}
	tk, err := l.Acquire(ctx, opts...)
	if err != nil {
		closeBody(out)
		return nil, fmt.Errorf("ratellmiter: waiting for a ticket from %s: %w", l.Name(), err)
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.base.RoundTrip(out)
		if err != nil {
			// No answer: nothing learned about the server.
			tk.Abandon()
			return nil, err
		}
		now := time.Now()
		hdr := signals.ParseHeaders(resp.Header, now)
		l.observe(hdr, now)
		if !mayBeRateLimit(resp) {
			if resp.StatusCode < 500 {
				tk.answered() // a canary resumes without waiting for its body
			}
			giveTokensBack(tk, resp)
			var tap *usageTap
			if tokens && resp.StatusCode < 300 {
				if tap = newUsageTap(resp); tap != nil {
					tap.learn = learn
				}
			}
			return finishOnClose(ctx, resp, tk, tap), nil
		}
		info, err := inspect(resp)
		if err != nil {
			// The error body broke off (inspect keeps what came, and the
			// error, for the caller): the status and headers still say
			// what the answer is.
			info = signals.ParseErrorBody(resp.StatusCode, resp.Header, nil, now)
		}
		switch info.Kind {
		case signals.KindRateLimited, signals.KindOverloaded:
		default:
			// An exhausted quota, a request too large for the limit,
			// or an answer that is no rate limit after all: waiting
			// cannot help, and the refusal says nothing about the
			// rate.
			giveTokensBack(tk, resp)
			tk.Abandon()
			return resp, nil
		}
		hint := time.Duration(0)
		if info.HasRetryAfter {
			hint = info.RetryAfter
		}
		overloaded := info.Kind == signals.KindOverloaded
		if attempt > l.cfg.maxRetries || (hdr.ShouldRetry != nil && !*hdr.ShouldRetry) {
			// Out of retries, or the server says this request must not
			// be sent again (an overload with "x-should-retry: false";
			// a 429 with it is an exhausted quota, handed on above).
			tk.rateLimitedFinal(hint, overloaded)
			return resp, nil
		}
		next, err := t.replay(req, out)
		if err != nil {
			tk.rateLimitedFinal(hint, overloaded)
			return resp, nil
		}
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if signed {
			wctx, cancel = context.WithTimeout(ctx, sigV4Window-time.Duration(l.now()-arrived))
		}
		// The refused answer is let go of while the retry waits (see
		// cutErrorBody); a retry that fails at once hands it on whole.
		err = tk.waitRetryReleasing(wctx, hint, overloaded, func() { cutErrorBody(resp) })
		cancel()
		if err != nil {
			closeBody(next)
			if errors.Is(err, ErrWouldExceedDeadline) || errors.Is(err, ErrQuotaExhausted) || tk.probe ||
				signed && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				// The retry is hopeless (too late, for the caller's
				// deadline or the request's signature, or the server's
				// daily request budget is used up), or the call is a
				// probe's, whose answer is the refusal: the caller gets
				// it.
				return resp, nil
			}
			_ = resp.Body.Close()
			return nil, fmt.Errorf("ratellmiter: waiting to retry a rate-limited request (%s): %w", l.Name(), err)
		}
		_ = resp.Body.Close()
		out = next
	}
}

// sigV4Window is how long after it reaches the transport a request signed
// with AWS Signature Version 4 may still be sent: AWS refuses a signature
// more than five minutes old (403, "Signature expired"), and the rest is
// left for the clocks to differ and the request to travel.
const sigV4Window = 4*time.Minute + 30*time.Second

// signedV4 reports whether req is signed with AWS Signature Version 4 in
// its headers, as the AWS SDK for Go v2 signs a request just before
// sending it: the transport sends it again only within sigV4Window of when
// it came, and a retry that cannot go out by then hands its refusal back,
// for the SDK to sign anew.
func signedV4(req *http.Request) bool {
	return strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
}
