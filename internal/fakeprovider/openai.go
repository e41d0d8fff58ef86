package fakeprovider

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// openAIRateLimitDocs ends OpenAI's rate-limit messages.
const openAIRateLimitDocs = "Visit https://platform.openai.com/account/rate-limits to learn more."

// openAIDialect speaks OpenAI's chat completions API.
type openAIDialect struct{}

// openAIError is the body of every OpenAI error response.
type openAIError struct {
	Error openAIErrorDetail `json:"error"`
}

// openAIErrorDetail is the inner object of an OpenAI error.
type openAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// openAIErrorBody builds an OpenAI error body with a null param.
func openAIErrorBody(msg, typ, code string) openAIError {
	return openAIError{Error: openAIErrorDetail{Message: msg, Type: typ, Code: code}}
}

func (openAIDialect) validate(*chatRequest) error { return nil }

func (openAIDialect) overloadable() bool { return false }

func (openAIDialect) badRequest(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, openAIErrorBody(msg, "invalid_request_error", ""))
}

// formatOpenAIDuration renders d like OpenAI's reset headers and messages
// ("20ms", "1.5s", "6m0s"), rounded up to the millisecond.
func formatOpenAIDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return time.Duration(ceilDiv(int64(d), int64(time.Millisecond)) * int64(time.Millisecond)).String()
}

func (openAIDialect) setHeaders(h http.Header, snap snapshot, _ time.Time, requestID string) {
	set := func(kind string, b budgetState) {
		h.Set("X-Ratelimit-Limit-"+kind, strconv.FormatInt(b.limit, 10))
		h.Set("X-Ratelimit-Remaining-"+kind, strconv.FormatInt(b.remaining, 10))
		h.Set("X-Ratelimit-Reset-"+kind, formatOpenAIDuration(b.reset))
	}
	set("Requests", snap.requests)
	if snap.tokens != nil {
		set("Tokens", *snap.tokens)
	}
	h.Set("X-Request-Id", requestID)
	h.Set("Openai-Organization", organization)
}

// openAIBudgetName is how OpenAI's messages name a budget.
func openAIBudgetName(k budgetKind) (name, typ string) {
	switch k {
	case budgetTokens:
		return "tokens per min (TPM)", "tokens"
	case budgetInput:
		return "input tokens per min", "tokens"
	case budgetOutput:
		return "output tokens per min", "tokens"
	}
	return "requests per min (RPM)", "requests"
}

func (openAIDialect) refuse(w http.ResponseWriter, req *chatRequest, dec decision) int {
	h := w.Header()
	status := http.StatusTooManyRequests
	var body openAIError
	switch dec.kind {
	case outcomeQuota:
		body = openAIErrorBody("You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota")
	case outcomeOutage:
		body = openAIErrorBody(fmt.Sprintf("Rate limit reached for %s in organization %s: the service is temporarily unavailable. Please try again in %s. %s",
			req.Model, organization, formatOpenAIDuration(dec.retry), openAIRateLimitDocs), "requests", "rate_limit_exceeded")
	case outcomePenalty:
		body = openAIErrorBody(fmt.Sprintf("Rate limit reached for %s in organization %s: too many requests were sent after being rate limited. Please try again in %s. %s",
			req.Model, organization, formatOpenAIDuration(dec.retry), openAIRateLimitDocs), "requests", "rate_limit_exceeded")
	case outcomeRateLimited:
		name, typ := openAIBudgetName(dec.v.refusedBy)
		if dec.v.tooLarge {
			body = openAIErrorBody(fmt.Sprintf("Request too large for %s in organization %s on %s: Limit %d, Requested %d. The input or output tokens must be reduced in order to run successfully. %s",
				req.Model, organization, name, dec.v.limit, dec.v.requested, openAIRateLimitDocs), typ, "rate_limit_exceeded")
			break
		}
		body = openAIErrorBody(fmt.Sprintf("Rate limit reached for %s in organization %s on %s: Limit %d, Used %d, Requested %d. Please try again in %s. %s",
			req.Model, organization, name, dec.v.limit, dec.v.used, dec.v.requested, formatOpenAIDuration(dec.retry), openAIRateLimitDocs), typ, "rate_limit_exceeded")
	default:
		status = http.StatusServiceUnavailable
		body = openAIErrorBody("The server is overloaded or not ready yet.", "server_error", "")
	}
	setRetryAfter(h, dec.retry, true)
	writeJSON(w, status, body)
	return status
}

// openAIFinishReason is "length" for a truncated reply and "stop" otherwise.
func openAIFinishReason(rep reply) string {
	if rep.truncated {
		return "length"
	}
	return "stop"
}

// openAIUsage is the usage object of a completion.
func openAIUsage(rep reply) map[string]any {
	return map[string]any{
		"prompt_tokens":     rep.input,
		"completion_tokens": rep.output,
		"total_tokens":      rep.input + rep.output,
	}
}

// openAIID is the completion id of a reply.
func openAIID(rep reply) string { return fmt.Sprintf("chatcmpl-fake%012d", rep.seq) }

func (openAIDialect) answer(w http.ResponseWriter, req *chatRequest, rep reply) {
	if req.Stream {
		streamOpenAI(w, req, rep)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id":      openAIID(rep),
		"object":  "chat.completion",
		"created": rep.created.Unix(),
		"model":   rep.model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": rep.text(), "refusal": nil},
			"logprobs":      nil,
			"finish_reason": openAIFinishReason(rep),
		}},
		"usage":              openAIUsage(rep),
		"system_fingerprint": "fp_fake",
	})
}
