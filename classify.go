package ratellmiter

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// Kind is what an error means to the limiter.
type Kind int

const (
	// KindOther is any error that is not about rate limits: Do returns it
	// as it is, and the ticket is finished, with Abandon when the error
	// says nothing about the server's limits (see Do).
	KindOther Kind = iota
	// KindRateLimited means the server said to slow down: the limiter
	// pauses, and Do retries the call at the front of the line.
	KindRateLimited
	// KindQuotaExhausted means a quota or spend limit is used up: retrying
	// cannot help, so Do fails at once with ErrQuotaExhausted and the
	// limiter does not pause.
	KindQuotaExhausted
	// KindOverloaded means the server refused the call for its own load
	// (Anthropic's 529, a 503 that says when to retry): Do pauses and
	// retries as for KindRateLimited, but the limiter does not take it as
	// a sign that its limit is too high.
	KindOverloaded
)

// Classification is a Classifier's verdict on an error.
type Classification struct {
	Kind       Kind          // what the error means
	RetryAfter time.Duration // the server's hint, 0 if none
	Quota      string        // for KindQuotaExhausted: which quota, if known
}

// Classifier tells Do what an error returned by its function means.
type Classifier func(err error) Classification

// DefaultClassifier recognises, anywhere in err's chain:
//   - *QuotaError, or any error that is ErrQuotaExhausted: quota exhausted;
//   - *RateLimitError: rate limited, with its RetryAfter;
//   - any error with a StatusCode() int method or an exported int field
//     named StatusCode (the error types of the official OpenAI and
//     Anthropic SDKs, among others) or HTTPStatusCode
//     (github.com/sashabaranov/go-openai's APIError and RequestError), an
//     HTTPStatusCode() int method (the AWS SDK for Go v2's ResponseError,
//     which an operation's error wraps), or
//     shaped as a google.rpc.Status, an int field Code beside a string
//     field Status (google.golang.org/genai's APIError), read as the
//     transport reads a response, from its status, the headers of a
//     Response field, an *http.Response or a struct that holds one in a
//     Response field of its own (as the AWS SDK's does), and the body of a RawJSON() string
//     method (as the SDKs have), of a Body field ([]byte or string) or,
//     for a google.rpc.Status or an error with an HTTPStatusCode field,
//     the error itself encoded in JSON (a body longer than 64 KiB is not
//     read, as the transport reads no more of one; the status and the
//     headers decide):
//     429 is a rate limit; 529, a 503 that says when to retry and an
//     overload the body or Amazon Bedrock's x-amzn-ErrorType header names
//     (Gemini's UNAVAILABLE, Bedrock's ModelNotReadyException and
//     ServiceUnavailableException) are overloads; the
//     hint comes from the headers, or else from the body (Gemini's
//     RetryInfo, OpenAI's "Please try again in 1.5s", Azure OpenAI's
//     "Please retry after 7 seconds"). A 429 whose body
//     or headers say a quota or spend limit is used up (OpenAI's
//     insufficient_quota, Anthropic's enforced_spend_limit_reached, a
//     Gemini per-day quota, x-should-retry: false) is KindQuotaExhausted;
//     OpenAI's 429 "Request too large for ..." (the request alone is over
//     a minute's limit, so retrying cannot help) is KindOther.
func DefaultClassifier(err error) Classification {
	if err == nil {
		return Classification{}
	}
	// A nil *QuotaError or *RateLimitError (the typed-nil slip) says
	// nothing: it is passed over, for a real one behind it or the checks
	// below.
	if qe := firstOf[QuotaError](err); qe != nil {
		return Classification{Kind: KindQuotaExhausted, Quota: qe.Quota}
	}
	if errors.Is(err, ErrQuotaExhausted) {
		return Classification{Kind: KindQuotaExhausted}
	}
	if rl := firstOf[RateLimitError](err); rl != nil {
		return Classification{Kind: KindRateLimited, RetryAfter: rl.RetryAfter}
	}
	for e := range walkErrors(err) {
		code, resp := statusOf(e)
		if code == 0 {
			continue
		}
		// The status, the headers and the body (the SDKs keep it as
		// RawJSON) are read as the transport reads a response.
		var header http.Header
		if resp != nil {
			header = resp.Header
		}
		info := signals.ParseErrorBody(code, header, errorBody(e), time.Now())
		switch info.Kind {
		case signals.KindQuotaExhausted:
			return Classification{Kind: KindQuotaExhausted, Quota: info.Quota}
		case signals.KindRateLimited:
			return Classification{Kind: KindRateLimited, RetryAfter: info.RetryAfter}
		case signals.KindOverloaded:
			return Classification{Kind: KindOverloaded, RetryAfter: info.RetryAfter}
		}
		return Classification{}
	}
	return Classification{}
}

// errorBody returns the body of the error response e carries: the
// RawJSON() of the OpenAI and Anthropic SDKs' errors, an exported Body
// field of type []byte or string (go-openai's RequestError, which holds a
// body it could not decode), or else the error itself encoded in JSON when
// it is a google.rpc.Status such as google.golang.org/genai's APIError, or
// has an HTTPStatusCode field, as go-openai's APIError (its fields are
// those of the body's "error" object). Nil when e carries none, or one
// longer than maxErrorBody, which is not read, as the transport reads no
// more of an error body: the SDKs keep the whole body, however long.
func errorBody(e error) []byte {
	if r, ok := e.(interface{ RawJSON() string }); ok {
		if raw := r.RawJSON(); len(raw) <= maxErrorBody {
			return errorEnvelope(raw)
		}
		return nil
	}
	v := indirect(reflect.ValueOf(e))
	if f := fieldOf(v, "Body"); f.IsValid() {
		switch {
		case f.Kind() != reflect.String && (f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.Uint8):
			// No body in bytes: read on.
		case f.Len() > maxErrorBody:
			return nil
		case f.Kind() == reflect.String:
			return []byte(f.String())
		default:
			return f.Bytes()
		}
	}
	_, rpc := rpcStatus(v)
	if f := fieldOf(v, "HTTPStatusCode"); rpc || f.IsValid() && f.CanInt() {
		if b, err := json.Marshal(e); err == nil && len(b) <= maxErrorBody {
			return errorEnvelope(string(b))
		}
	}
	return nil
}

// indirect returns what v points to, through pointers and interfaces, or
// the zero Value when one of them is nil.
func indirect(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return reflect.Value{}
		}
		v = v.Elem()
	}
	return v
}

// rpcStatus returns the HTTP status of v when v, or what it points to, is
// shaped as a google.rpc.Status, as google.golang.org/genai's APIError is:
// an int field Code beside a string field Status ("RESOURCE_EXHAUSTED").
func rpcStatus(v reflect.Value) (int, bool) {
	v = indirect(v)
	code, status := fieldOf(v, "Code"), fieldOf(v, "Status")
	if !code.IsValid() || !code.CanInt() || !status.IsValid() || status.Kind() != reflect.String {
		return 0, false
	}
	return int(code.Int()), true
}

// errorEnvelope returns raw as an error response's body: raw itself if it
// is one, or raw wrapped as its "error" object. openai-go's Error keeps
// only the inner object of {"error": {...}}, Anthropic's the whole body.
func errorEnvelope(raw string) []byte {
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &top) != nil {
		return []byte(raw)
	}
	if _, ok := top["error"]; ok {
		return []byte(raw)
	}
	return []byte(`{"error":` + raw + `}`)
}

// firstOf returns the first *E in err's chain that is not nil, in the
// order errors.As reads the chain, by type or by an error's As method;
// nil if there is none.
func firstOf[E any, P interface {
	*E
	error
}](err error) P {
	for e := range walkErrors(err) {
		if t, ok := e.(P); ok && t != nil {
			return t
		}
		var t P
		if a, ok := e.(interface{ As(any) bool }); ok && a.As(&t) && t != nil {
			return t
		}
	}
	return nil
}

// walkErrors yields err and the errors it wraps, depth first, in the
// order errors.As visits them, and as far: a chain errors.As reads to its
// end (a batch's errors joined) is read to its end here too.
func walkErrors(err error) func(func(error) bool) {
	return func(yield func(error) bool) {
		stack := []error{err}
		for len(stack) > 0 {
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if e == nil {
				continue
			}
			if !yield(e) {
				return
			}
			switch u := e.(type) {
			case interface{ Unwrap() error }:
				stack = append(stack, u.Unwrap())
			case interface{ Unwrap() []error }:
				errs := u.Unwrap()
				for i := len(errs) - 1; i >= 0; i-- {
					stack = append(stack, errs[i])
				}
			}
		}
	}
}

// statusOf returns the HTTP status an error carries, by a StatusCode()
// or HTTPStatusCode() method, an exported int field StatusCode or
// HTTPStatusCode, or the Code of a google.rpc.Status (see rpcStatus), and
// its response if any (see responseOf). A field promoted through a nil
// embedded pointer counts as absent, and a method that panics (called
// through one) as no status.
func statusOf(err error) (code int, resp *http.Response) {
	v := indirect(reflect.ValueOf(err))
	if !v.IsValid() {
		return 0, nil
	}
	resp = responseOf(v)
	if s, ok := err.(interface{ StatusCode() int }); ok {
		return statusMethod(s.StatusCode), resp
	}
	if s, ok := err.(interface{ HTTPStatusCode() int }); ok {
		return statusMethod(s.HTTPStatusCode), resp
	}
	for _, name := range [...]string{"StatusCode", "HTTPStatusCode"} {
		if f := fieldOf(v, name); f.IsValid() && f.CanInt() {
			return int(f.Int()), resp
		}
	}
	if code, ok := rpcStatus(v); ok {
		return code, resp
	}
	return 0, resp
}

// fieldOf returns the field of struct v with the given name, or the zero
// Value if v is no struct, has no such field, or reaches it through a nil
// embedded pointer.
func fieldOf(v reflect.Value, name string) reflect.Value {
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	sf, ok := v.Type().FieldByName(name)
	if !ok {
		return reflect.Value{}
	}
	f, err := v.FieldByIndexErr(sf.Index)
	if err != nil {
		return reflect.Value{}
	}
	return f
}

// statusMethod calls an error's status method, taking a panic (a method
// promoted through a nil embedded pointer) for no status.
func statusMethod(status func() int) (code int) {
	defer func() {
		if recover() != nil {
			code = 0
		}
	}()
	return status()
}

// responseOf returns the response held in the Response field of struct v:
// an *http.Response, or one in the Response field of the struct it points
// to (the AWS SDK's smithyhttp.Response embeds it so); nil if none.
func responseOf(v reflect.Value) *http.Response {
	for range 2 {
		f := fieldOf(v, "Response")
		if !f.IsValid() || !f.CanInterface() {
			return nil
		}
		if r, ok := f.Interface().(*http.Response); ok {
			return r
		}
		v = indirect(f)
	}
	return nil
}
