package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// DefaultMaxBodyBytes is the largest request body the transport buffers, by
// default, to replay it on a retry or to read its model. See
// WithMaxBodyBytes.
const DefaultMaxBodyBytes = 32 << 20

// maxErrorBody bounds how much of a rate-limit error body the transport
// reads to classify it. Providers send a few hundred bytes.
const maxErrorBody = 64 << 10

// statusOverloaded is Anthropic's "overloaded" status.
const statusOverloaded = 529

// Transport is an http.RoundTripper that paces requests with a limiter. It
// takes a ticket before each request and finishes it when the response is
// over; it absorbs rate-limit answers (429, 529, and 503 with Retry-After)
// by pausing the limiter and sending the request again, at the front of the
// line, so that the client above it sees them only when retrying is
// hopeless. Create it with NewTransport; it is safe for concurrent use.
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
// s.Limiter(model), where model is the "model" field of the request's JSON
// body (without a leading "models/", as Gemini's SDK writes it there), or,
// when the body has none, the model named in a Gemini-style URL path such
// as /v1beta/models/gemini-2.5-flash:generateContent ("tunedModels/NAME"
// for a tuned model's path, /v1beta/tunedModels/NAME:generateContent), or the
// first "model" field of a multipart/form-data body (an audio
// transcription or translation, as the SDKs send them), read only as far
// as that field, from a copy of the body that GetBody gives, without
// keeping it. A body sent with Content-Encoding: gzip is decompressed to
// read it, and counts against WithMaxBodyBytes decompressed; a body of any
// other Content-Type (a file, say) is not read for it. A request for which
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
// before the request context's deadline (or within WithMaxWait), while
// the server reports its request budget of a day used up, or when the
// answer is an overload marked "x-should-retry: false", the last answer
// is returned as it is. An exhausted quota (OpenAI's
// insufficient_quota, Anthropic's
// enforced_spend_limit_reached, Gemini's per-day quotas, or a 429 with
// "x-should-retry: false") is returned at once without pausing the
// limiter, since waiting cannot help; so is a request larger than the
// server's whole per-minute limit (OpenAI's 429 "Request too large for
// ..."). Either way the client sees the
// provider's own response and raises its own error.
//
// Any other response is returned with its body wrapped: the ticket is
// finished when the body is read to its end or closed, so a streamed
// response holds its ticket until the stream is over. Close every response
// body, as net/http requires anyway. A network error abandons the ticket
// (see Ticket.Abandon) and is returned as it is; an exhausted quota
// abandons it at once, and a server error (5xx) once its body is closed:
// neither says anything about the rate limit.
//
// While the transport waits for a ticket it honours the request's context:
// when it ends, RoundTrip returns an error wrapping the context's error,
// which http.Client reports with the request's URL.
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
	counts := countsTokens(req)
	jsonBody, boundary := bodyType(req)
	need := jsonBody && (t.service != nil || (t.limiter.tokenBudgeted() && !counts))
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
			return finishOnClose(resp, tk, tap), nil
		}
		info, err := inspect(resp)
		if err != nil {
			// The error body could not be read: hand on what we have.
			giveTokensBack(tk, resp)
			tk.Abandon()
			return resp, nil
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
		if err := tk.waitRetry(ctx, hint, overloaded); err != nil {
			closeBody(next)
			if errors.Is(err, ErrWouldExceedDeadline) || errors.Is(err, ErrQuotaExhausted) || tk.probe {
				// The retry is hopeless (too late, or the server's daily
				// request budget is used up), or the call is a probe's,
				// whose answer is the refusal: the caller gets it.
				return resp, nil
			}
			_ = resp.Body.Close()
			return nil, fmt.Errorf("ratellmiter: waiting to retry a rate-limited request (%s): %w", l.Name(), err)
		}
		_ = resp.Body.Close()
		out = next
	}
}

// prepare returns the request to send first and, when the transport must
// know it (need), the body. When req has no GetBody, its body is read (up
// to the bound) and the returned request is a copy that can be replayed.
// When the body is read through GetBody, the returned request is a copy
// that sends a body GetBody gives afresh (see withFreshBody). Otherwise
// the returned request is req itself. On an error req's body is left
// open, for RoundTrip to close.
func (t *Transport) prepare(req *http.Request, need bool) (*http.Request, []byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil, nil
	}
	if req.GetBody != nil {
		if !need {
			return req, nil, nil
		}
		rc, err := req.GetBody()
		if err != nil {
			return nil, nil, fmt.Errorf("ratellmiter: reading request body: %w", err)
		}
		body, err := t.readBody(rc, req.ContentLength)
		_ = rc.Close()
		if err != nil {
			if t.service != nil || !errors.Is(err, ErrBodyTooLarge) {
				return nil, nil, err
			}
			// Only the token estimate wanted it (a file upload, say):
			// the request goes out without one.
			body = nil
		}
		out, err := withFreshBody(req)
		if err != nil {
			return nil, nil, err
		}
		return out, body, nil
	}
	body, err := t.readBody(req.Body, req.ContentLength)
	if err != nil {
		return nil, nil, err // RoundTrip closes req's body
	}
	_ = req.Body.Close()
	out := req.Clone(req.Context())
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.Body, _ = out.GetBody()
	return out, body, nil
}

// withFreshBody returns a copy of req that sends a body GetBody gives
// afresh, and closes req's: the SDKs' GetBody, for a body given as a
// *bytes.Reader, rewinds that reader and hands it back rather than a copy,
// so that reading it leaves req.Body at its end. On an error req's body is
// left open.
func withFreshBody(req *http.Request) (*http.Request, error) {
	fresh, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("ratellmiter: reading request body: %w", err)
	}
	_ = req.Body.Close()
	out := req.Clone(req.Context())
	out.Body = fresh
	return out, nil
}

// readBody reads a request body, failing beyond t.maxBody bytes. size is
// its length when known (the request's ContentLength), to read it into one
// buffer of that length instead of growing one as it comes.
func (t *Transport) readBody(r io.Reader, size int64) ([]byte, error) {
	// One byte more than the bound tells a body over it; math.MaxInt64
	// (no bound) must not wrap to a negative limit, which reads nothing.
	lr := io.LimitReader(r, t.maxBody+min(1, math.MaxInt64-t.maxBody))
	var body []byte
	var err error
	if size > 0 && size <= t.maxBody && size < math.MaxInt-bytes.MinRead {
		// bytes.Buffer reads on while it has MinRead bytes free, so
		// that much more lets it see the end without growing.
		buf := bytes.NewBuffer(make([]byte, 0, int(size)+bytes.MinRead))
		_, err = buf.ReadFrom(lr)
		body = buf.Bytes()
	} else {
		body, err = io.ReadAll(lr)
	}
	if err != nil {
		return nil, fmt.Errorf("ratellmiter: reading request body: %w", err)
	}
	if int64(len(body)) > t.maxBody {
		return nil, fmt.Errorf("%w: more than %d bytes (see WithMaxBodyBytes)", ErrBodyTooLarge, t.maxBody)
	}
	return body, nil
}

// replay returns a fresh copy of the request last sent, out, with a new
// body, for a retry. req is the caller's request.
func (t *Transport) replay(req, out *http.Request) (*http.Request, error) {
	next := out.Clone(req.Context())
	if out.Body == nil || out.Body == http.NoBody {
		return next, nil
	}
	if out.GetBody == nil {
		return nil, errors.New("ratellmiter: request body cannot be replayed")
	}
	body, err := out.GetBody()
	if err != nil {
		return nil, err
	}
	next.Body = body
	return next, nil
}

// mayBeRateLimit reports whether resp's status is one a rate limit is
// answered with: 429, 529, or 503 with a retry hint.
func mayBeRateLimit(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, statusOverloaded:
		return true
	case http.StatusServiceUnavailable:
		return resp.Header.Get("Retry-After") != "" || resp.Header.Get("Retry-After-Ms") != ""
	}
	return false
}

// inspect reads resp's error body (up to maxErrorBody), classifies the
// answer, and puts back a body that yields the same bytes. A nil body (a
// base RoundTripper may hand on an empty one so, as http.Client allows)
// becomes http.NoBody, which the retry loop can close.
func inspect(resp *http.Response) (signals.ErrorInfo, error) {
	orig := resp.Body
	if orig == nil || orig == http.NoBody {
		resp.Body = http.NoBody
		return signals.ParseErrorBody(resp.StatusCode, resp.Header, nil, time.Now()), nil
	}
	body, err := io.ReadAll(io.LimitReader(orig, maxErrorBody+1))
	if err != nil {
		_ = orig.Close()
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return signals.ErrorInfo{}, err
	}
	if len(body) > maxErrorBody {
		// Too long for an error: classify by status and headers only,
		// and keep the rest readable.
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), orig), orig}
		return signals.ParseErrorBody(resp.StatusCode, resp.Header, nil, time.Now()), nil
	}
	_ = orig.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return signals.ParseErrorBody(resp.StatusCode, resp.Header, decoded(resp.Header, body), time.Now()), nil
}

// decoded returns an error body as the server wrote it before compressing
// it: a caller that asks for gzip itself (setting Accept-Encoding) gets the
// body still compressed. A body that does not decompress within
// maxErrorBody yields nil, to be classified by status and headers only.
func decoded(h http.Header, body []byte) []byte {
	if !isGzip(h) {
		return body
	}
	plain, _ := gunzip(body, maxErrorBody)
	return plain
}

// isGzip reports whether h says its body is compressed with gzip.
func isGzip(h http.Header) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get("Content-Encoding")), "gzip")
}

// gunzip returns body decompressed, or nil when it is not valid gzip or
// decompresses to more than limit bytes, which tooLarge then reports.
func gunzip(body []byte, limit int) (plain []byte, tooLarge bool) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	plain, err = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if len(plain) > limit {
		return nil, true
	}
	if err != nil {
		return nil, false
	}
	return plain, false
}

// bodyType reads req's Content-Type once: isJSON reports whether its body
// may be JSON, and so name a model or cost tokens (the type is
// application/json, one ending in "+json", or unset; a multipart upload, a
// file or a form is not), and boundary is the boundary of a
// multipart/form-data body, else "".
func bodyType(req *http.Request) (isJSON bool, boundary string) {
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		return true, ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return true, ""
	}
	if mt == "multipart/form-data" {
		return false, params["boundary"]
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json"), ""
}

// modelOf returns the model a request is for, as the caller names it: the
// "model" field of its JSON body (without the "models/" that Gemini's SDK
// puts before a model's name there, as in a cache it creates, nor the
// "projects/P/locations/L/publishers/google/models/" that it puts there
// for Vertex AI), or else the
// model of a Gemini-style path (".../models/NAME" or
// ".../models/NAME:method" gives NAME, ".../tunedModels/NAME:method"
// gives "tunedModels/NAME", for the methods of modelMethods); "" when
// neither says.
func modelOf(body []byte, req *http.Request) string {
	if m := signals.Model(body); m != "" {
		if k := strings.LastIndex(m, "/models/"); k >= 0 {
			return m[k+len("/models/"):]
		}
		return strings.TrimPrefix(m, "models/")
	}
	return pathModel(req)
}

// pathModel returns the model of req's Gemini-style path, as modelOf
// reads it, or "".
func pathModel(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	p := req.URL.Path
	var m, prefix string
	i, j := strings.LastIndex(p, "/models/"), strings.LastIndex(p, "/tunedModels/")
	switch {
	case j > i:
		m, prefix = p[j+len("/tunedModels/"):], "tunedModels/"
	case i >= 0:
		m = p[i+len("/models/"):]
	default:
		return ""
	}
	if k := strings.IndexByte(m, '/'); k >= 0 {
		m = m[:k]
	}
	if k := strings.LastIndexByte(m, ':'); k >= 0 && modelMethods[m[k+1:]] {
		m = m[:k]
	}
	if m == "" {
		return ""
	}
	return prefix + m
}

// modelMethods are the methods that a Gemini-style path names after its
// model, "models/NAME:method" (Gemini's and Vertex AI's); a colon followed
// by anything else is part of the name, as in OpenAI's fine-tuned models
// ("models/ft:gpt-4o-mini:org::id").
var modelMethods = map[string]bool{
	"generateContent": true, "streamGenerateContent": true,
	"countTokens": true, "computeTokens": true,
	"embedContent": true, "batchEmbedContents": true, "asyncBatchEmbedContent": true,
	"batchGenerateContent": true, "generateAnswer": true,
	"predict": true, "predictLongRunning": true, "rawPredict": true, "streamRawPredict": true,
}

// closeBody closes a request's body, as a RoundTripper must even when it
// fails.
func closeBody(req *http.Request) {
	if req != nil && req.Body != nil {
		_ = req.Body.Close()
	}
}

// finishOnClose arranges for tk to be finished when resp's body has been
// read to its end or closed, whichever comes first. A tap, when given,
// reads the usage the body reports and corrects the ticket's token charge
// if the body was read to its end, or closed after the whole answer had
// passed (see usageTap.final).
//
// A server error (5xx) says nothing about the limits: its ticket is
// abandoned rather than done, so that it neither ends a pause as a canary
// nor counts as admitted for learning.
func finishOnClose(resp *http.Response, tk *Ticket, tap *usageTap) *http.Response {
	serverError := resp.StatusCode >= 500
	if resp.Body == nil || resp.Body == http.NoBody {
		finishTicket(tk, serverError)
		return resp
	}
	if w, ok := resp.Body.(io.Writer); ok {
		// A 101 Switching Protocols body is also the connection's writer.
		resp.Body = &ticketBodyWriter{ticketBody: ticketBody{rc: resp.Body, tk: tk}, w: w}
	} else {
		resp.Body = &ticketBody{rc: resp.Body, tk: tk, tap: tap, abandon: serverError}
	}
	return resp
}

// finishTicket finishes tk: Abandon if the answer says nothing about the
// server's limits, else Done.
func finishTicket(tk *Ticket, abandon bool) {
	if abandon {
		tk.Abandon()
	} else {
		tk.Done()
	}
}

// ticketBody is a response body that finishes its ticket once.
type ticketBody struct {
	rc      io.ReadCloser
	tk      *Ticket
	tap     *usageTap // nil unless the ticket's token charge is to be corrected
	abandon bool      // finish with Abandon: the answer says nothing about the limits
	done    atomic.Bool
	// tapMu serializes the tap's use: Close may come from another
	// goroutine while one reads, as net/http allows.
	tapMu sync.Mutex
}

func (b *ticketBody) finish(atEOF bool) {
	if b.done.CompareAndSwap(false, true) {
		if b.tap != nil {
			b.tapMu.Lock()
			if b.tap.final(atEOF) {
				b.tap.reconcile(b.tk)
			}
			b.tapMu.Unlock()
		}
		finishTicket(b.tk, b.abandon)
	}
}

// Read reads from the body and finishes the ticket at its end.
func (b *ticketBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.tap != nil && n > 0 && !b.done.Load() {
		b.tapMu.Lock()
		if !b.done.Load() {
			b.tap.write(p[:n])
		}
		b.tapMu.Unlock()
	}
	if err == io.EOF {
		b.finish(true)
	}
	return n, err
}

// Close closes the body and finishes the ticket.
func (b *ticketBody) Close() error {
	err := b.rc.Close()
	b.finish(false)
	return err
}

// ticketBodyWriter is a ticketBody whose body is also writable.
type ticketBodyWriter struct {
	ticketBody
	w io.Writer
}

// Write writes to the underlying connection.
func (b *ticketBodyWriter) Write(p []byte) (int, error) { return b.w.Write(p) }

// readCloser joins a reader and the closer of the body it reads from.
type readCloser struct {
	io.Reader
	io.Closer
}

// errReader fails every read with its error.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
