package signals

import (
	"bytes"
	"encoding/json"
)

// Usage is the token consumption a provider reports for one response.
type Usage struct {
	// InputTokens counts the prompt tokens the provider's rate limits
	// count: OpenAI's prompt_tokens or input_tokens (cached ones
	// included), Anthropic's input_tokens plus cache_creation_input_tokens
	// (its cache reads, cache_read_input_tokens, do not count towards its
	// input-tokens-per-minute limit), or Gemini's promptTokenCount.
	InputTokens int64
	// OutputTokens counts generated tokens: OpenAI's completion_tokens
	// or output_tokens, Anthropic's output_tokens, or Gemini's
	// candidatesTokenCount plus thoughtsTokenCount.
	OutputTokens int64
	// Known reports whether any usage figure was found.
	Known bool
}

// usagePart identifies one reported figure that contributes to Usage.
type usagePart int

const (
	partInput usagePart = iota
	partCacheCreation
	partCacheRead
	partOutput
	partThoughts
	numParts
)

// usageKeys maps the providers' usage field names to parts. It is a
// slice, not a map, so that an object carrying two names for one part is
// read deterministically (the later entry wins).
var usageKeys = []struct {
	name string
	part usagePart
}{
	{"prompt_tokens", partInput},      // OpenAI chat completions
	{"completion_tokens", partOutput}, // OpenAI chat completions
	{"input_tokens", partInput},       // Anthropic, OpenAI responses
	{"output_tokens", partOutput},     // Anthropic, OpenAI responses
	{"cache_creation_input_tokens", partCacheCreation},
	{"cache_read_input_tokens", partCacheRead},
	{"promptTokenCount", partInput},      // Gemini
	{"candidatesTokenCount", partOutput}, // Gemini
	{"thoughtsTokenCount", partThoughts}, // Gemini
}

// usageParts accumulates usage figures. Later reports of a figure replace
// earlier ones, because streaming providers send running totals.
type usageParts struct {
	value [numParts]int64
	seen  [numParts]bool
}

// merge records every figure found in the usage objects of a decoded
// response or stream event.
func (u *usageParts) merge(obj map[string]any) {
	candidates := []any{obj["usage"], obj["usageMetadata"]}
	for _, key := range []string{"message", "response", "x_groq"} {
		if inner, ok := obj[key].(map[string]any); ok {
			candidates = append(candidates, inner["usage"])
		}
	}
	for _, c := range candidates {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range usageKeys {
			if n, ok := jsonCount(m[k.name]); ok {
				u.value[k.part], u.seen[k.part] = n, true
			}
		}
	}
}

// usage sums the recorded figures.
func (u *usageParts) usage() Usage {
	var r Usage
	for p := range numParts {
		if !u.seen[p] {
			continue
		}
		r.Known = true
		switch p {
		case partOutput, partThoughts:
			r.OutputTokens = satAdd(r.OutputTokens, u.value[p])
		case partCacheRead:
			// Read, so that a usage of cache reads alone is Known, but
			// not charged: Anthropic's limits leave cache reads out.
		default:
			r.InputTokens = satAdd(r.InputTokens, u.value[p])
		}
	}
	return r
}

// ParseUsage reads token usage from a complete (non-streaming) JSON
// response body of OpenAI's chat completions or responses API, Anthropic's
// messages API or Gemini's generateContent. A top-level JSON array (as
// returned by Gemini's streamGenerateContent without SSE) is read element
// by element, later figures replacing earlier ones. Unrecognised bodies
// yield a Usage that is not Known.
func ParseUsage(body []byte) Usage {
	var u usageParts
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return Usage{}
	}
	switch v := v.(type) {
	case map[string]any:
		u.merge(v)
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				u.merge(m)
			}
		}
	}
	return u.usage()
}
