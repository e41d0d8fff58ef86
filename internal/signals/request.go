package signals

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// PerMessageTokens is the fixed overhead EstimateTokens adds for each
// message, covering role markers and separators that the text alone does
// not account for.
const PerMessageTokens = 4

// maxCount caps counts read from bodies so that sums cannot overflow.
const maxCount = math.MaxInt64 / 4

// maxTextDepth bounds how deeply nested content parts are followed.
const maxTextDepth = 16

// Request is what a request body reveals about its token cost.
type Request struct {
	// Model is the "model" field, or "" when absent.
	Model string
	// MaxTokens is the output cap from "max_tokens",
	// "max_completion_tokens", "max_output_tokens" or Gemini's
	// generationConfig.maxOutputTokens, in that order of preference;
	// 0 when none is present. It caps each completion: see Choices.
	MaxTokens int64
	// Choices is the number of completions the request asks for, each
	// capped at MaxTokens: OpenAI's "n" (or the legacy completions'
	// "best_of", which generates that many, when larger) or Gemini's
	// generationConfig.candidateCount; 0 when none is present, which
	// means one.
	Choices int64
	// PromptChars is the number of bytes of prompt text: message
	// contents (the tool calls and results among them), the system
	// prompt ("system" or "instructions"), "prompt" and "input" (and
	// Gemini's "contents" and "systemInstruction"), and the tool
	// definitions ("tools", or the older "functions"), which the
	// providers put in the prompt, at the length of their JSON. Bytes
	// over-count non-ASCII text, which errs on the side of caution.
	// Images and other non-text inputs are not counted.
	PromptChars int64
	// Messages is the number of messages (objects) in "messages" (or
	// Gemini's "contents", or an array "input"); the strings and token
	// ids of an embedding's "input" are no messages.
	Messages int64
	// Stream reports whether "stream" is true.
	Stream bool
}

// EstimateTokens returns a conservative token estimate for the request:
// EstimateOutputTokens plus EstimateInputTokens. The result saturates
// instead of overflowing.
func (r Request) EstimateTokens() int64 {
	return satAdd(r.EstimateOutputTokens(), r.EstimateInputTokens())
}

// EstimateOutputTokens returns the most output tokens the request may
// generate, as the providers count it against their limits: MaxTokens for
// each of its Choices. The result saturates instead of overflowing.
func (r Request) EstimateOutputTokens() int64 {
	out, n := max(r.MaxTokens, 0), max(r.Choices, 1)
	if out > 0 && n > math.MaxInt64/out {
		return math.MaxInt64
	}
	return out * n
}

// EstimateInputTokens returns a conservative estimate of the request's
// input tokens: one token per four bytes of prompt text, plus
// PerMessageTokens for each message. The result saturates instead of
// overflowing.
func (r Request) EstimateInputTokens() int64 {
	per := max(r.Messages, 0)
	if per > math.MaxInt64/PerMessageTokens {
		return math.MaxInt64
	}
	return satAdd(max(r.PromptChars, 0)/4, per*PerMessageTokens)
}

// ParseRequest reads a JSON request body for OpenAI's chat completions,
// completions and responses APIs, Anthropic's messages API or Gemini's
// generateContent. Anything it does not understand is ignored; a body
// that is not a JSON object yields the zero Request.
func ParseRequest(body []byte) Request {
	var r Request
	obj, ok := decodeObject(body)
	if !ok {
		return r
	}
	r.Model, _ = obj["model"].(string)
	r.Stream, _ = obj["stream"].(bool)
	for _, key := range []string{"max_tokens", "max_completion_tokens", "max_output_tokens"} {
		if n, ok := jsonCount(obj[key]); ok {
			r.MaxTokens = n
			break
		}
	}
	for _, key := range []string{"n", "best_of"} {
		if n, ok := jsonCount(obj[key]); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	if cfg, ok := obj["generationConfig"].(map[string]any); ok {
		if r.MaxTokens == 0 {
			r.MaxTokens, _ = jsonCount(cfg["maxOutputTokens"])
		}
		if n, ok := jsonCount(cfg["candidateCount"]); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	for _, key := range []string{"messages", "contents", "input"} {
		list, _ := obj[key].([]any)
		for _, e := range list {
			if _, ok := e.(map[string]any); ok {
				r.Messages = satAdd(r.Messages, 1)
			}
		}
	}
	for _, key := range []string{"messages", "system", "instructions", "prompt", "input", "contents", "systemInstruction", "system_instruction"} {
		r.PromptChars = satAdd(r.PromptChars, textLen(obj[key], 0))
	}
	for _, key := range []string{"tools", "functions"} {
		if v, ok := obj[key]; ok {
			r.PromptChars = satAdd(r.PromptChars, jsonLen(v, 0))
		}
	}
	return r
}

// decodeObject decodes a JSON object, keeping numbers as json.Number.
func decodeObject(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// textLen sums the lengths of the text found in v: strings count in full,
// arrays are summed, the numbers in them (token ids) at four bytes, a
// token, each, and objects contribute their "text", "content" and
// "parts" fields, the output and arguments of a tool call ("output",
// "arguments"), and, at the length of their JSON, the tool calls of a
// message ("tool_calls", "function_call", Gemini's "functionCall"), the
// input of an Anthropic tool_use block ("input") and the response of a
// Gemini functionResponse, and the text of an Anthropic document whose
// "source" is text or content blocks. Other values, images and PDFs among
// them, count zero.
func textLen(v any, depth int) int64 {
	if depth > maxTextDepth {
		return 0
	}
	switch v := v.(type) {
	case string:
		return int64(len(v))
	case []any:
		var n int64
		for _, e := range v {
			if _, ok := e.(json.Number); ok {
				n = satAdd(n, 4) // a token id
				continue
			}
			n = satAdd(n, textLen(e, depth+1))
		}
		return n
	case map[string]any:
		var n int64
		for _, key := range []string{"text", "content", "parts", "arguments", "output"} {
			n = satAdd(n, textLen(v[key], depth+1))
		}
		for _, key := range []string{"tool_calls", "function_call", "functionCall", "input"} {
			if e, ok := v[key]; ok {
				n = satAdd(n, jsonLen(e, depth+1))
			}
		}
		if src, ok := v["source"].(map[string]any); ok {
			// An Anthropic document given as text, or as content
			// blocks; a base64 (PDF) or URL source is not text.
			switch src["type"] {
			case "text":
				n = satAdd(n, textLen(src["data"], depth+2))
			case "content":
				n = satAdd(n, textLen(src["content"], depth+2))
			}
		}
		for _, key := range []string{"functionResponse", "function_response"} {
			if r, ok := v[key].(map[string]any); ok {
				if e, ok := r["response"]; ok {
					n = satAdd(n, jsonLen(e, depth+2))
				}
			}
		}
		return n
	}
	return 0
}

// jsonLen returns the length of the decoded JSON value v written as
// compact JSON, counting each string by its decoded bytes. Values nested
// deeper than maxTextDepth count zero.
func jsonLen(v any, depth int) int64 {
	if depth > maxTextDepth {
		return 0
	}
	switch v := v.(type) {
	case nil:
		return 4
	case string:
		return int64(len(v)) + 2
	case json.Number:
		return int64(len(v))
	case bool:
		if v {
			return 4
		}
		return 5
	case []any:
		n := int64(1 + max(len(v), 1)) // brackets and commas
		for _, e := range v {
			n = satAdd(n, jsonLen(e, depth+1))
		}
		return n
	case map[string]any:
		n := int64(1 + max(len(v), 1)) // braces and commas
		for k, e := range v {
			n = satAdd(n, satAdd(int64(len(k))+3, jsonLen(e, depth+1)))
		}
		return n
	}
	return 0
}

// jsonCount converts a decoded JSON number to a non-negative count. Whole
// numbers written with a fraction or exponent ("100.0", "1e3") are
// accepted; negative, fractional and non-numeric values are not. Large
// values are capped at maxCount.
func jsonCount(v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	return numberCount(string(num))
}

// numberCount is jsonCount for the text of a JSON number.
func numberCount(num string) (int64, bool) {
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(n, maxCount), true
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil && !math.IsInf(f, 1) {
		return 0, false
	}
	if f < 0 || f != math.Trunc(f) {
		return 0, false
	}
	if f >= maxCount {
		return maxCount, true
	}
	return int64(f), true
}

// satAdd adds two non-negative counts, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}
