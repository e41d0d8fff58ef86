package signals

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Kind classifies an error response by what a client should do about it.
type Kind int

const (
	// KindUnknown is an error the package does not recognise as a
	// capacity problem.
	KindUnknown Kind = iota
	// KindRateLimited means a short-window limit was hit; retrying after
	// a delay is expected to succeed.
	KindRateLimited
	// KindQuotaExhausted means a long-window quota, spend limit or
	// billing limit was hit; retrying soon will not help.
	KindQuotaExhausted
	// KindOverloaded means the provider is short of capacity for
	// everyone; retrying with backoff is appropriate.
	KindOverloaded
	// KindTooLarge means the request alone exceeds a per-minute limit
	// (OpenAI's 429 "Request too large for ... on tokens per min"): it
	// can never succeed as it is, so waiting and retrying cannot help,
	// and it says nothing about the rate.
	KindTooLarge
)

// String returns a lower-case name for k.
func (k Kind) String() string {
	switch k {
	case KindRateLimited:
		return "rate_limited"
	case KindQuotaExhausted:
		return "quota_exhausted"
	case KindOverloaded:
		return "overloaded"
	case KindTooLarge:
		return "request_too_large"
	}
	return "unknown"
}

// ErrorInfo is the classification of one error response.
type ErrorInfo struct {
	// Kind is what the error means for a rate limiter.
	Kind Kind
	// RetryAfter is the retry hint, valid when HasRetryAfter is true.
	// It always lies within [0, MaxRetryAfter].
	RetryAfter time.Duration
	// HasRetryAfter reports whether a hint came from the headers or,
	// failing that, from the body.
	HasRetryAfter bool
	// Quota names the exhausted quota when Kind is KindQuotaExhausted:
	// OpenAI's error code, Anthropic's details.error_code, Gemini's
	// quotaId, or "x-should-retry: false".
	Quota string
	// Code is the provider's error code: OpenAI's "code" (or "type"),
	// Anthropic's error type, Gemini's status, or the error type of
	// Amazon Bedrock's x-amzn-ErrorType header.
	Code string
	// Message is the provider's human-readable message.
	Message string
}

// providerError is the union of the error objects of OpenAI
// ({"error":{"message","type","param","code"}}), Anthropic
// ({"type":"error","error":{"type","message","details"}}) and Gemini
// ({"error":{"code","message","status","details":[...]}}). Fields whose
// JSON type differs between providers are kept raw.
type providerError struct {
	Message json.RawMessage `json:"message"`
	Type    json.RawMessage `json:"type"`
	Code    json.RawMessage `json:"code"`
	Status  json.RawMessage `json:"status"`
	Details json.RawMessage `json:"details"`
}

// tryAgainRE finds hints such as OpenAI's "Please try again in 20s." and
// Gemini's "Please retry in 43.5s.".
var tryAgainRE = regexp.MustCompile(`(?i)(?:try again|retry) in ((?:[0-9]+(?:\.[0-9]*)?(?:ms|us|µs|ns|h|m|s))+)`)

// retryAfterRE finds hints written out in words, as Azure OpenAI's
// "Please retry after 7 seconds.", which it sends at times without a
// Retry-After header.
var retryAfterRE = regexp.MustCompile(`(?i)(?:try again|retry) after ([0-9]+(?:\.[0-9]+)?) ?(milliseconds?|seconds?)\b`)

// tooLargeRE finds OpenAI's refusal of a request larger than a whole
// minute's limit: "Request too large for gpt-4o in organization org-... on
// tokens per min (TPM): Limit 30000, Requested 36837. ...".
var tooLargeRE = regexp.MustCompile(`(?i)^\s*request too large for `)

// Quota codes that mean retrying soon cannot succeed.
var quotaCodes = map[string]bool{
	"insufficient_quota":           true, // OpenAI
	"billing_hard_limit_reached":   true, // OpenAI
	"enforced_spend_limit_reached": true, // Anthropic
	"billing_error":                true, // Anthropic
}

// MinuteWindow is the latest reset of a budget a server enforces per
// minute: a minute, and the seconds by which a reset can seem later on
// the local clock (clocks that differ by less than two seconds are not
// corrected, and an absolute reset is written to the second). A budget
// that resets later is one of a longer window, a day's.
const MinuteWindow = time.Minute + 3*time.Second

// ParseErrorBody classifies an error response from its status, headers and
// body. It recognises the documented error shapes of OpenAI, Anthropic and
// Gemini, and Amazon Bedrock's x-amzn-ErrorType header, and falls back to
// the status code: 429 is rate limited, 529 is
// overloaded, and 503 with a Retry-After header is overloaded. A 429 with
// "x-should-retry: false", or whose rate-limit headers say the request
// budget of a window longer than a minute (Groq's requests per day) has
// nothing remaining, is treated as an exhausted quota, and OpenAI's
// 429 "Request too large for ..." as KindTooLarge, whatever its headers. Retry hints
// from headers (see RetryAfter) win over hints found in the body.
func ParseErrorBody(status int, h http.Header, body []byte, now time.Time) ErrorInfo {
	var info ErrorInfo
	var bodyHint time.Duration
	var hasBodyHint bool
	if e, ok := decodeProviderError(body); ok {
		bodyHint, hasBodyHint = classifyBody(&info, e)
	} else if typ := amznErrorType(h); typ != "" {
		classifyAmazon(&info, typ)
	}
	hint, hasHint := RetryAfter(h, now)
	switch {
	case hasHint:
		info.RetryAfter, info.HasRetryAfter = hint, true
	case hasBodyHint:
		info.RetryAfter, info.HasRetryAfter = bodyHint, true
	}
	shouldRetry, ok := parseBool(h.Get("x-should-retry"))
	switch {
	case status == http.StatusTooManyRequests && ok && !shouldRetry:
		if info.Kind != KindQuotaExhausted && info.Kind != KindTooLarge {
			info.Kind, info.Quota = KindQuotaExhausted, "x-should-retry: false"
		}
	case status == http.StatusTooManyRequests && info.Kind != KindQuotaExhausted && info.Kind != KindTooLarge && spentLongBudget(h, now):
		info.Kind, info.Quota = KindQuotaExhausted, "requests per day"
	case info.Kind != KindUnknown:
	case status == http.StatusTooManyRequests:
		info.Kind = KindRateLimited
	case status == 529:
		info.Kind = KindOverloaded
	case status == http.StatusServiceUnavailable && hasHint:
		info.Kind = KindOverloaded
	}
	return info
}

// spentLongBudget reports whether h says the request budget of a window
// longer than a minute has nothing remaining until a reset beyond
// MinuteWindow.
func spentLongBudget(h http.Header, now time.Time) bool {
	b := ParseHeaders(h, now).Requests
	return b.Known && b.Remaining <= 0 && !b.Reset.IsZero() && b.Reset.Sub(now) > MinuteWindow
}

// decodeProviderError finds the error object in body. Gemini sometimes
// wraps it in a one-element array.
func decodeProviderError(body []byte) (providerError, bool) {
	var e providerError
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(body, &list) != nil || len(list) == 0 {
			return e, false
		}
		body = list[0]
	}
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Error) == 0 {
		return e, false
	}
	if json.Unmarshal(env.Error, &e) != nil {
		return e, false
	}
	return e, true
}

// classifyBody fills info from a provider error object and returns any
// retry hint found in it.
func classifyBody(info *ErrorInfo, e providerError) (time.Duration, bool) {
	info.Message = jsonString(e.Message)
	typ := jsonString(e.Type)
	code := jsonString(e.Code)
	status := jsonString(e.Status)
	switch {
	case status != "":
		info.Code = status
	case code != "":
		info.Code = code
	default:
		info.Code = typ
	}

	// Gemini: google.rpc.Status with typed details.
	if status != "" {
		if d, ok := classifyGemini(info, status, e.Details); ok {
			return d, true
		}
		return messageHint(info.Message)
	}

	// Anthropic: details.error_code names spend limits.
	var details struct {
		ErrorCode string `json:"error_code"`
	}
	if len(e.Details) > 0 && e.Details[0] == '{' && json.Unmarshal(e.Details, &details) == nil {
		if isQuotaCode(details.ErrorCode) {
			info.Kind, info.Quota = KindQuotaExhausted, details.ErrorCode
			return 0, false
		}
	}

	switch {
	case quotaCodes[code]:
		info.Kind, info.Quota = KindQuotaExhausted, code
	case quotaCodes[typ]:
		info.Kind, info.Quota = KindQuotaExhausted, typ
	case typ == "overloaded_error" || code == "engine_overloaded" || code == "server_overloaded":
		info.Kind = KindOverloaded
	case code == "rate_limit_exceeded" && tooLargeRE.MatchString(info.Message):
		info.Kind = KindTooLarge
	case typ == "rate_limit_error" || code == "rate_limit_exceeded":
		info.Kind = KindRateLimited
	}
	return messageHint(info.Message)
}

// messageHint extracts a retry hint from an error message.
func messageHint(msg string) (time.Duration, bool) {
	if m := tryAgainRE.FindStringSubmatch(msg); m != nil {
		return clampHint(ParseDuration(m[1]))
	}
	if m := retryAfterRE.FindStringSubmatch(msg); m != nil {
		unit := time.Second
		if strings.HasPrefix(strings.ToLower(m[2]), "milli") {
			unit = time.Millisecond
		}
		return clampHint(decimalDuration(m[1], unit))
	}
	return 0, false
}

// isQuotaCode reports whether an Anthropic details.error_code denotes a
// spend or billing limit.
func isQuotaCode(code string) bool {
	if code == "" {
		return false
	}
	return quotaCodes[code] || strings.Contains(code, "spend_limit") ||
		strings.Contains(code, "quota") || strings.Contains(code, "billing")
}

// jsonString returns raw's value if it is a JSON string, the literal text
// if it is a number, and "" otherwise.
func jsonString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// amznErrorType returns the error an AWS service names in its
// x-amzn-ErrorType header ("ThrottlingException" of
// "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
// or "".
func amznErrorType(h http.Header) string {
	typ, _, _ := strings.Cut(h.Get("X-Amzn-ErrorType"), ":")
	return strings.TrimSpace(typ)
}

// classifyAmazon fills info from the error type Amazon Bedrock names. It
// answers 429 both to a caller that goes too fast (ThrottlingException)
// and while the model is not ready to serve, as an imported model is
// while it loads (ModelNotReadyException): the model's state, not the
// caller's rate, so it is an overload, as is its 503
// ServiceUnavailableException, the service's own state (the transport
// retries a 503 only when it says when to). Other types are left to the
// status.
func classifyAmazon(info *ErrorInfo, typ string) {
	info.Code = typ
	switch typ {
	case "ModelNotReadyException", "ServiceUnavailableException":
		info.Kind = KindOverloaded
	case "ThrottlingException":
		info.Kind = KindRateLimited
	}
}
