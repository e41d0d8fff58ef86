package signals

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// decodedMerge is usageParts.merge over a fully decoded object: the
// reference the scanning reader must agree with.
func decodedMerge(u *usageParts, obj map[string]any) {
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

// decodedParseUsage is ParseUsage by decoding the whole body.
func decodedParseUsage(body []byte) Usage {
	var u usageParts
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return Usage{}
	}
	switch v := v.(type) {
	case map[string]any:
		decodedMerge(&u, v)
	case []any:
		for _, e := range v {
			if m, ok := e.(map[string]any); ok {
				decodedMerge(&u, m)
			}
		}
	}
	return u.usage()
}

// decodedParseData is parseData by decoding the whole event.
func decodedParseData(parts *usageParts, data []byte) bool {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	hasUsage := bytes.Contains(data, []byte("usage"))
	if !hasUsage && (len(data) > maxTerminalLine || !bytes.Contains(data, []byte("_stop"))) {
		return false
	}
	obj, ok := decodeObject(data)
	if !ok {
		return false
	}
	if hasUsage {
		decodedMerge(parts, obj)
	}
	if r, ok := obj["response"].(map[string]any); ok {
		if id, ok := r["id"].(string); ok {
			parts.id = id
		}
	}
	typ, _ := obj["type"].(string)
	return slices.Contains(terminalEvents, typ)
}

// checkUsageAgrees asserts that ParseUsage and parseData read body as
// decoding it does.
func checkUsageAgrees(t *testing.T, body []byte) {
	t.Helper()
	if got, want := ParseUsage(body), decodedParseUsage(body); got != want {
		t.Fatalf("ParseUsage(%q) = %+v, decoding gives %+v", body, got, want)
	}
	var got, want usageParts
	gotEnd, wantEnd := parseData(&got, body), decodedParseData(&want, body)
	if got != want || gotEnd != wantEnd {
		t.Fatalf("parseData(%q) = %+v, %v; decoding gives %+v, %v", body, got, gotEnd, want, wantEnd)
	}
}

// usageBodies are answers and events that test a reader of usage: what
// each name of a usage member means, and what encoding/json accepts.
func usageBodies() []string {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	return []string{
		`{"usage":{"prompt_tokens":3,"completion_tokens":4}}`,
		`{"usage":{"prompt_tokens":3},"usage":{"completion_tokens":4}}`,
		`{"usage":{"prompt_tokens":3,"prompt_tokens":5}}`,
		`{"us\u0061ge":{"prompt_tok\u0065ns":3}}`,
		`{"usage":{"prompt_tokens":3}} trailing garbage`,
		`{"usage":{"prompt_tokens":3}`,
		`{"usage":{"prompt_tokens":3},}`,
		`{"usage":{"prompt_tokens":01}}`,
		`{"usage":{"prompt_tokens":1.0,"completion_tokens":1e3,"input_tokens":-0}}`,
		`{"usage":{"prompt_tokens":1.5,"completion_tokens":"4"}}`,
		`{"usage":{"prompt_tokens":1E+2,"completion_tokens":2e-0}}`,
		`{"usage":{"prompt_tokens":1e400,"output_tokens":99999999999999999999}}`,
		`{"usage":{"prompt_tokens":3},"x":"` + "\xff\xfe" + `"}`,
		`{"usage":{"prompt_tokens":3},"x":"` + "\x01" + `"}`,
		`{"usage":{"prompt_tokens":3},"x":tru}`,
		`{"usage":{"prompt_tokens":3},"x":nul}`,
		`{"message":{"usage":{"input_tokens":7}},"usage":null,"type":"message_start"}`,
		`{"message":{"usage":{"input_tokens":7},"usage":{"output_tokens":1}}}`,
		`{"response":{"usage":{"input_tokens":7}},"type":"response.completed"}`,
		`{"type":"response.created","response":{"id":"resp_\u0031","id":"resp_2","usage":null}}`,
		`{"type":"response.completed","response":{"id":7,"usage":{"input_tokens":1}},"id":"x"}`,
		`{"id":"resp_1","object":"response","usage":{"input_tokens":5,"output_tokens":2}}`,
		`{"x_groq":{"usage":{"prompt_tokens":7}},"usageMetadata":{"promptTokenCount":2}}`,
		`{"x_groq":{"usage":{"prompt_tokens":7}},"x_groq":{"id":"g"}}`,
		`{"type":"message_stop"}`,
		`{"type":"message_stop","type":"ping"}`,
		`{"type":"message_st\u006fp"}`,
		`{"type":["message_stop"]}`,
		`[{"usageMetadata":{"promptTokenCount":3}},7,null,{"usageMetadata":{"candidatesTokenCount":4}}]`,
		`[{"usageMetadata":{"promptTokenCount":3}},]`,
		`  {"usage":{"prompt_tokens":3}}`,
		`null`,
		`"usage"`,
		`{"usage":{"prompt_tokens":3},"deep":` + deep(9998) + `}`,
		`{"usage":{"prompt_tokens":3},"deep":` + deep(9999) + `}`,
		`[` + deep(9998) + `,{"usage":{"prompt_tokens":3}}]`,
		`[` + deep(9999) + `,{"usage":{"prompt_tokens":3}}]`,
	}
}

func TestUsageIsReadAsDecodingReadsIt(t *testing.T) {
	for _, body := range usageBodies() {
		checkUsageAgrees(t, []byte(body))
	}
}

func FuzzUsageIsReadAsDecodingReadsIt(f *testing.F) {
	f.Add([]byte(`{"usage":{"prompt_tokens":3,"completion_tokens":4}}`))
	f.Add([]byte(`{"type":"message_delta","usage":{"output_tokens":15}}`))
	f.Add([]byte(`[{"usageMetadata":{"promptTokenCount":3,"thoughtsTokenCount":2}}]`))
	f.Add([]byte(`{"type":"response.completed","response":{"usage":{"input_tokens":1}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkUsageAgrees(t, body)
	})
}

// A stream's usage and a JSON answer's are read without decoding what
// carries none: a chunk of OpenAI's with "usage":null, the text of a
// Gemini chunk, the vectors of an embeddings answer.
func TestUsageIsReadWithoutAllocating(t *testing.T) {
	for name, stream := range map[string][]byte{
		"openai":    samples.OpenAIStream(1000),
		"gemini":    samples.GeminiStream(1000),
		"anthropic": samples.AnthropicStream(1000),
	} {
		allocs := testing.AllocsPerRun(5, func() {
			var s StreamUsage
			for p := stream; len(p) > 0; {
				n := min(4096, len(p))
				_, _ = s.Write(p[:n])
				p = p[n:]
			}
			require.True(t, s.Usage().Known)
		})
		assert.LessOrEqual(t, allocs, 10.0, "%s: allocations for a stream of 1,000 events", name)
	}
	// An answer read as it passes allocates once, the room for its usage
	// object, however long it is.
	answer := samples.EmbeddingsAnswer(100)
	var got Usage
	allocs := testing.AllocsPerRun(5, func() { got = answerUsage(answer, 4096) })
	assert.Equal(t, Usage{InputTokens: 8, Known: true}, got)
	assert.LessOrEqual(t, allocs, 1.0, "allocations to read the usage of an embeddings answer of %d bytes", len(answer))
}
