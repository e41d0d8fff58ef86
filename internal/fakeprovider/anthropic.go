package fakeprovider

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// anthropicDialect speaks Anthropic's messages API.
type anthropicDialect struct{}

// anthropicError is the body of every Anthropic error response.
type anthropicError struct {
	Type  string               `json:"type"`
	Error anthropicErrorDetail `json:"error"`
}

// anthropicErrorDetail is the inner object of an Anthropic error.
type anthropicErrorDetail struct {
	Type    string            `json:"type"`
	Message string            `json:"message"`
	Details map[string]string `json:"details,omitempty"`
}

// anthropicErrorBody builds an Anthropic error body.
func anthropicErrorBody(typ, msg string) anthropicError {
	return anthropicError{Type: "error", Error: anthropicErrorDetail{Type: typ, Message: msg}}
}

func (anthropicDialect) validate(req *chatRequest) error {
	if req.MaxTokens == nil {
		return errors.New("max_tokens: Field required")
	}
	return nil
}

func (anthropicDialect) overloadable() bool { return true }

func (anthropicDialect) badRequest(w http.ResponseWriter, status int, msg string) {
	typ := "invalid_request_error"
	if status == http.StatusMethodNotAllowed {
		typ = "not_found_error"
	}
	writeJSON(w, status, anthropicErrorBody(typ, msg))
}

// anthropicResetTime renders the moment now+d as RFC 3339, rounded up to the
// second so that a client waiting until then is never early.
func anthropicResetTime(now time.Time, d time.Duration) string {
	t := now.Add(max(d, 0))
	if u := t.Truncate(time.Second); u.Before(t) {
		t = u.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}

func (anthropicDialect) setHeaders(h http.Header, snap snapshot, now time.Time, requestID string) {
	set := func(kind string, b budgetState) {
		h.Set("Anthropic-Ratelimit-"+kind+"-Limit", strconv.FormatInt(b.limit, 10))
		h.Set("Anthropic-Ratelimit-"+kind+"-Remaining", strconv.FormatInt(b.remaining, 10))
		h.Set("Anthropic-Ratelimit-"+kind+"-Reset", anthropicResetTime(now, b.reset))
	}
	set("Requests", snap.requests)
	if snap.tokens != nil {
		set("Tokens", *snap.tokens)
	}
	if snap.input != nil {
		set("Input-Tokens", *snap.input)
	}
	if snap.output != nil {
		set("Output-Tokens", *snap.output)
	}
	h.Set("Request-Id", requestID)
	h.Set("Anthropic-Organization-Id", organization)
}

// anthropicBudgetName is how Anthropic's messages name a budget.
func anthropicBudgetName(k budgetKind) string {
	switch k {
	case budgetTokens:
		return "tokens"
	case budgetInput:
		return "input tokens"
	case budgetOutput:
		return "output tokens"
	}
	return "requests"
}

func (anthropicDialect) refuse(w http.ResponseWriter, req *chatRequest, dec decision) int {
	status := http.StatusTooManyRequests
	var body anthropicError
	switch dec.kind {
	case outcomeQuota:
		body = anthropicErrorBody("rate_limit_error", "Your organization has reached its spend limit. Raise the limit or wait for the next billing period to continue.")
		body.Error.Details = map[string]string{"error_code": "enforced_spend_limit_reached"}
	case outcomeOverloaded:
		status = statusOverloaded
		body = anthropicErrorBody("overloaded_error", "Overloaded")
	case outcomeOutage:
		body = anthropicErrorBody("rate_limit_error", fmt.Sprintf("The service is temporarily unavailable for your organization (%s). Please try again in %d seconds.",
			organization, ceilDiv(int64(dec.retry), int64(time.Second))))
	case outcomePenalty:
		body = anthropicErrorBody("rate_limit_error", fmt.Sprintf("Your organization (%s) sent too many requests after being rate limited. Please try again in %d seconds.",
			organization, ceilDiv(int64(dec.retry), int64(time.Second))))
	case outcomeRateLimited:
		name := anthropicBudgetName(dec.v.refusedBy)
		if dec.v.tooLarge {
			body = anthropicErrorBody("rate_limit_error", fmt.Sprintf("This request would exceed the rate limit for your organization (%s) of %d %s per minute: it asks for %d. Please reduce the prompt length or the maximum tokens requested.",
				organization, dec.v.limit, name, dec.v.requested))
			break
		}
		body = anthropicErrorBody("rate_limit_error", fmt.Sprintf("This request would exceed the rate limit for your organization (%s) of %d %s per minute. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later.",
			organization, dec.v.limit, name))
	}
	setRetryAfter(w.Header(), dec.retry, false)
	writeJSON(w, status, body)
	return status
}

// anthropicStopReason is "max_tokens" for a truncated reply and "end_turn"
// otherwise.
func anthropicStopReason(rep reply) string {
	if rep.truncated {
		return "max_tokens"
	}
	return "end_turn"
}

// anthropicID is the message id of a reply.
func anthropicID(rep reply) string { return fmt.Sprintf("msg_fake%012d", rep.seq) }

// anthropicMessage is the message object of a reply with the given content
// and usage.
func anthropicMessage(rep reply, content []any, stopReason any, usage map[string]any) map[string]any {
	return map[string]any{
		"id":            anthropicID(rep),
		"type":          "message",
		"role":          "assistant",
		"content":       content,
		"model":         rep.model,
		"stop_reason":   stopReason,
		"stop_sequence": nil,
		"usage":         usage,
	}
}

func (anthropicDialect) answer(w http.ResponseWriter, req *chatRequest, rep reply) {
	if req.Stream {
		streamAnthropic(w, rep)
		return
	}
	writeJSON(w, http.StatusOK, anthropicMessage(rep,
		[]any{map[string]any{"type": "text", "text": rep.text()}},
		anthropicStopReason(rep),
		map[string]any{"input_tokens": rep.input, "output_tokens": rep.output}))
}
