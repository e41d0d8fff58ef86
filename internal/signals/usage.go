package signals

import (
	"math"
	"net/http"
)

// Usage is the token consumption a provider reports for one response.
type Usage struct {
	// InputTokens counts the prompt tokens the provider's rate limits
	// count: OpenAI's prompt_tokens or input_tokens (cached ones
	// included), Anthropic's input_tokens plus cache_creation_input_tokens
	// (its cache reads, cache_read_input_tokens, do not count towards its
	// input-tokens-per-minute limit), Amazon Bedrock's inputTokens plus
	// cacheWriteInputTokens (the Converse API's; its quotas leave the
	// cache reads, cacheReadInputTokens, out too), or Gemini's
	// promptTokenCount.
	InputTokens int64
	// OutputTokens counts generated tokens: OpenAI's completion_tokens
	// or output_tokens, Anthropic's output_tokens, Amazon Bedrock's
	// outputTokens, or Gemini's
	// candidatesTokenCount plus thoughtsTokenCount. When the usage's
	// total_tokens is more than its prompt and completion tokens, the
	// rest counts as output: the OpenAI-compatible endpoints of Gemini
	// and xAI leave a thinking model's reasoning out of
	// completion_tokens but count it in total_tokens.
	OutputTokens int64
	// CacheReadTokens and CacheWriteTokens are the prompt tokens read
	// from and written to Anthropic's prompt cache
	// (cache_read_input_tokens, cache_creation_input_tokens) or Amazon
	// Bedrock's (cacheReadInputTokens, cacheWriteInputTokens); the second
	// are part of InputTokens, the first are not.
	CacheReadTokens, CacheWriteTokens int64
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
	partTotal
	numParts
)

// usageKeys maps the providers' usage field names to parts. It is a
// list, not a map, so that an object carrying two names for one part is
// read deterministically (the later entry wins).
var usageKeys = [...]struct {
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
	{"total_tokens", partTotal},          // OpenAI and OpenAI-compatible
	// Amazon Bedrock's Converse API, and Amazon Nova's answers. Their
	// totalTokens is left unread: the two counts are always given, and a
	// total that counted the cache reads would put them in the output.
	{"inputTokens", partInput},
	{"outputTokens", partOutput},
	{"cacheWriteInputTokens", partCacheCreation},
	{"cacheReadInputTokens", partCacheRead},
	// Amazon Bedrock's amazon-bedrock-invocationMetrics.
	{"inputTokenCount", partInput},
	{"outputTokenCount", partOutput},
	{"cacheWriteInputTokenCount", partCacheCreation},
	{"cacheReadInputTokenCount", partCacheRead},
}

// usageParts accumulates usage figures. Later reports of a figure replace
// earlier ones, because streaming providers send running totals.
type usageParts struct {
	value [numParts]int64
	seen  [numParts]bool
	// id is the "id" of the "response" object of the last stream event
	// that carried one (an OpenAI Responses API stream's).
	id string
}

// usageMembers are the members of a decoded response or stream event that
// its usage and type are read from: the last of each name, as a decoded
// map holds it.
type usageMembers struct {
	usage, usageMetadata, message, response, xGroq, typ []byte
	// invocationMetrics is Amazon Bedrock's
	// "amazon-bedrock-invocationMetrics", which the last chunk of its
	// streams carries, whatever the model.
	invocationMetrics []byte
}

// scanUsageMembers returns the usageMembers of the JSON object at the
// start of b (after white space), or false when b does not start with an
// object that encoding/json's Decoder would decode (what follows it is
// ignored, as the Decoder does). levels is the scanner's; math.MaxInt
// says b has been checked already. It allocates only to decode an
// escaped key, and walks b once.
func scanUsageMembers(b []byte, levels int) (m usageMembers, ok bool) {
	s := scanner{b: b, levels: levels, trusted: levels == math.MaxInt}
	s.space()
	if !s.eat('{') {
		return m, false
	}
	s.space()
	if s.eat('}') {
		return m, true
	}
	for {
		s.space()
		k := s.i
		if !s.str() {
			return m, false
		}
		key := b[k:s.i]
		s.space()
		if !s.eat(':') {
			return m, false
		}
		s.space()
		v := s.i
		if !s.value(0) { // the object is level 1, its values' level 2
			return m, false
		}
		val := b[v:s.i]
		switch string(keyName(key)) {
		case "usage":
			m.usage = val
		case "usageMetadata":
			m.usageMetadata = val
		case "message":
			m.message = val
		case "response":
			m.response = val
		case "x_groq":
			m.xGroq = val
		case "type":
			m.typ = val
		case "amazon-bedrock-invocationMetrics":
			m.invocationMetrics = val
		}
		s.space()
		if s.eat(',') {
			continue
		}
		return m, s.eat('}')
	}
}

// merge records every figure found in the usage objects of a response or
// stream event: its "usage" and "usageMetadata", and the "usage" of its
// "message", "response" and "x_groq"; later ones replace earlier ones.
func (u *usageParts) merge(m usageMembers) {
	for i, c := range [...][]byte{m.usage, m.usageMetadata, m.message, m.response, m.xGroq} {
		if i >= 2 && isObject(c) {
			c = member(c, "usage")
		}
		if isObject(c) {
			u.mergeFigures(c)
		}
	}
}

// mergeFigures records the figures of one usage object.
func (u *usageParts) mergeFigures(usage []byte) {
	var vals [len(usageKeys)][]byte
	members(usage, func(k, v []byte) {
		name := keyName(k) // decoded once, not once for each name
		for i, uk := range usageKeys {
			if string(name) == uk.name {
				vals[i] = v
			}
		}
	})
	for i, k := range usageKeys {
		if !isNumber(vals[i]) {
			continue
		}
		if n, ok := numberCount(string(vals[i])); ok {
			u.value[k.part], u.seen[k.part] = n, true
		}
	}
}

// usage sums the recorded figures. A total alone says nothing of the
// split; beside other figures, what it counts beyond them is output.
func (u *usageParts) usage() Usage {
	var r Usage
	for p := range numParts {
		if !u.seen[p] || p == partTotal {
			continue
		}
		r.Known = true
		switch p {
		case partOutput, partThoughts:
			r.OutputTokens = satAdd(r.OutputTokens, u.value[p])
		case partCacheRead:
			// Not charged: Anthropic's limits leave cache reads out.
			r.CacheReadTokens = u.value[p]
		case partCacheCreation:
			r.CacheWriteTokens = u.value[p]
			r.InputTokens = satAdd(r.InputTokens, u.value[p])
		default:
			r.InputTokens = satAdd(r.InputTokens, u.value[p])
		}
	}
	if r.Known && u.seen[partTotal] {
		if rest := u.value[partTotal] - satAdd(r.InputTokens, r.OutputTokens); rest > 0 {
			r.OutputTokens = satAdd(r.OutputTokens, rest)
		}
	}
	return r
}

// ParseUsage reads token usage from a complete (non-streaming) JSON
// response body of OpenAI's chat completions or responses API, Anthropic's
// messages API or Gemini's generateContent. A top-level JSON array (as
// returned by Gemini's streamGenerateContent without SSE) is read element
// by element, later figures replacing earlier ones. Unrecognised bodies
// yield a Usage that is not Known. It reads body as an AnswerUsage does.
func ParseUsage(body []byte) Usage {
	var a AnswerUsage
	_, _ = a.Write(body)
	return a.Usage()
}

// BedrockHeaderUsage reads the token counts Amazon Bedrock sends in the
// headers of an InvokeModel answer, whatever the model:
// X-Amzn-Bedrock-Input-Token-Count and X-Amzn-Bedrock-Output-Token-Count.
// The Usage is not Known when neither is there.
func BedrockHeaderUsage(h http.Header) Usage {
	var u usageParts
	for _, c := range [...]struct {
		name string
		part usagePart
	}{
		{"X-Amzn-Bedrock-Input-Token-Count", partInput},
		{"X-Amzn-Bedrock-Output-Token-Count", partOutput},
	} {
		v := h.Get(c.name)
		if v == "" {
			continue // most answers: no parse, whose error allocates
		}
		if n, ok := numberCount(v); ok {
			u.value[c.part], u.seen[c.part] = n, true
		}
	}
	return u.usage()
}
