package signals

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Budget is one rate-limit dimension (requests, tokens, ...) as reported
// by a single response.
type Budget struct {
	// Limit is the size of the window's allowance, or 0 when the
	// provider did not send it.
	Limit int64
	// Remaining is what is left in the current window. It is meaningful
	// only when Known is true.
	Remaining int64
	// Reset is when the allowance is fully replenished, or the zero Time
	// when the provider did not send it, or sent one that is malformed
	// or more than MaxRetryAfter away.
	Reset time.Time
	// Known reports whether Remaining was present and valid. A budget
	// with only a Limit or only a Reset is not Known.
	Known bool
}

// Limits is everything one response's headers say about rate limits.
type Limits struct {
	// Requests is the request-count budget. For OpenAI it is per minute;
	// Groq sends the same header names but its request budget is per
	// day, so callers that need the window length must know the
	// provider.
	Requests Budget
	// Tokens is the combined token budget (OpenAI, Groq, Anthropic).
	Tokens Budget
	// InputTokens is Anthropic's input-token budget.
	InputTokens Budget
	// OutputTokens is Anthropic's output-token budget.
	OutputTokens Budget
	// RetryAfter is the server's retry hint, valid when HasRetryAfter
	// is true. See RetryAfter.
	RetryAfter time.Duration
	// HasRetryAfter reports whether a usable retry hint was present.
	HasRetryAfter bool
	// ShouldRetry is the value of "x-should-retry" (sent by OpenAI and
	// Anthropic), or nil when absent or not a boolean.
	ShouldRetry *bool
}

// budgetHeaders names the three headers of one budget and how its reset
// header is encoded.
type budgetHeaders struct {
	limit, remaining, reset string
	// absoluteReset is true when reset is an RFC 3339 timestamp
	// (Anthropic) rather than a duration relative to now (OpenAI).
	absoluteReset bool
}

// The header names of every budget, built once and canonical, so that
// reading them allocates nothing.
var (
	openAIRequests    = openAIBudget("Requests")
	openAITokens      = openAIBudget("Tokens")
	anthropicRequests = anthropicBudget("Requests")
	anthropicTokens   = anthropicBudget("Tokens")
	anthropicInput    = anthropicBudget("Input-Tokens")
	anthropicOutput   = anthropicBudget("Output-Tokens")
)

func openAIBudget(name string) budgetHeaders {
	return budgetHeaders{
		limit:     http.CanonicalHeaderKey("x-ratelimit-limit-" + name),
		remaining: http.CanonicalHeaderKey("x-ratelimit-remaining-" + name),
		reset:     http.CanonicalHeaderKey("x-ratelimit-reset-" + name),
	}
}

func anthropicBudget(name string) budgetHeaders {
	p := "anthropic-ratelimit-" + name
	return budgetHeaders{
		limit:         http.CanonicalHeaderKey(p + "-limit"),
		remaining:     http.CanonicalHeaderKey(p + "-remaining"),
		reset:         http.CanonicalHeaderKey(p + "-reset"),
		absoluteReset: true,
	}
}

// get returns the first value of the canonical header key, as h.Get does,
// without canonicalizing key again.
func get(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ParseHeaders extracts rate-limit information from response headers.
//
// It understands OpenAI's (and Groq's) "x-ratelimit-{limit,remaining,reset}-
// {requests,tokens}" headers, whose resets are durations such as "6m0s"
// relative to now, and Anthropic's "anthropic-ratelimit-{requests,tokens,
// input-tokens,output-tokens}-{limit,remaining,reset}" headers, whose
// resets are RFC 3339 timestamps (moved onto the local clock when the
// response's Date header shows the clocks differ by more than a second or
// two). When both families are present, OpenAI's
// value wins field by field. Retry hints are read with RetryAfter and
// "x-should-retry" is decoded as a boolean. Malformed values are ignored
// individually, and so is a reset more than MaxRetryAfter away.
func ParseHeaders(h http.Header, now time.Time) Limits {
	var l Limits
	skew := clockSkew(h, now)
	l.Requests = mergeBudget(readBudget(h, openAIRequests, now, skew), readBudget(h, anthropicRequests, now, skew))
	l.Tokens = mergeBudget(readBudget(h, openAITokens, now, skew), readBudget(h, anthropicTokens, now, skew))
	l.InputTokens = readBudget(h, anthropicInput, now, skew)
	l.OutputTokens = readBudget(h, anthropicOutput, now, skew)
	l.RetryAfter, l.HasRetryAfter = RetryAfter(h, now)
	if b, ok := parseBool(get(h, "X-Should-Retry")); ok {
		l.ShouldRetry = &b
	}
	return l
}

// readBudget reads one budget's headers; skew is clockSkew's, by which an
// absolute reset is moved onto the local clock.
func readBudget(h http.Header, names budgetHeaders, now time.Time, skew time.Duration) Budget {
	var b Budget
	if n, ok := parseCount(get(h, names.limit)); ok {
		b.Limit = n
	}
	if n, ok := parseCount(get(h, names.remaining)); ok {
		b.Remaining, b.Known = n, true
	}
	v := strings.TrimSpace(get(h, names.reset))
	if v == "" {
		return b
	}
	if names.absoluteReset {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			b.Reset = t.Add(skew)
		}
	} else if d, ok := ParseDuration(v); ok {
		b.Reset = now.Add(d)
	}
	// A reset further away than any budget's window is garbage, as a
	// retry hint that far is: a confused or hostile server must not
	// have a spent budget refuse every call for years.
	if b.Reset.Sub(now) > MaxRetryAfter {
		b.Reset = time.Time{}
	}
	return b
}

// mergeBudget fills the fields missing from a with those of b.
func mergeBudget(a, b Budget) Budget {
	if a.Limit == 0 {
		a.Limit = b.Limit
	}
	if !a.Known && b.Known {
		a.Remaining, a.Known = b.Remaining, true
	}
	if a.Reset.IsZero() {
		a.Reset = b.Reset
	}
	return a
}

// parseCount parses a non-negative decimal integer header value.
func parseCount(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// parseBool accepts "true" and "false" in any letter case.
func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
