package signals

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// answerUsage reads body through an AnswerUsage in pieces of the given
// sizes, cycled.
func answerUsage(body []byte, sizes ...int) Usage {
	var a AnswerUsage
	readInPieces(&a, body, sizes...)
	return a.Usage()
}

// answerRead returns an AnswerUsage that read body in pieces of the
// given sizes, cycled.
func answerRead(body []byte, sizes ...int) *AnswerUsage {
	a := new(AnswerUsage)
	readInPieces(a, body, sizes...)
	return a
}

// readInPieces writes body to a in pieces of the given sizes, cycled
// (whole when none is given).
func readInPieces(a *AnswerUsage, body []byte, sizes ...int) {
	for i := 0; len(body) > 0; i++ {
		n := len(body)
		if len(sizes) > 0 {
			n = min(max(sizes[i%len(sizes)], 1), len(body))
		}
		_, _ = a.Write(body[:n])
		body = body[n:]
	}
}

// decodedResponseID is AnswerUsage.ResponseID by decoding the whole body.
func decodedResponseID(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v any
	if dec.Decode(&v) != nil {
		return ""
	}
	obj, _ := v.(map[string]any)
	id, _ := obj["id"].(string)
	return id
}

// checkAnswerAgrees asserts that AnswerUsage reads body as decoding the
// whole body does, whole and in the given pieces.
func checkAnswerAgrees(t *testing.T, body []byte, sizes ...int) {
	t.Helper()
	want := decodedParseUsage(body)
	if got := answerUsage(body); got != want {
		t.Fatalf("AnswerUsage(%q) = %+v, decoding gives %+v", body, got, want)
	}
	if got := answerUsage(body, sizes...); got != want {
		t.Fatalf("AnswerUsage(%q) in pieces of %v = %+v, decoding gives %+v", body, sizes, got, want)
	}
	if got, want := answerRead(body, sizes...).ResponseID(), decodedResponseID(body); got != want {
		t.Fatalf("AnswerUsage(%q).ResponseID() in pieces of %v = %q, decoding gives %q", body, sizes, got, want)
	}
}

// An OpenAI Responses API answer names its response, which a later
// request may continue with previous_response_id.
func TestAnswerUsageReadsTheAnswersID(t *testing.T) {
	for body, want := range map[string]string{
		`{"id":"resp_1","object":"response","output":[{"id":"msg_1","type":"message"}],"usage":{"input_tokens":5,"output_tokens":2}}`: "resp_1",
		`{"id":"resp_1","id":"resp_\u0032"}`: "resp_2",
		`{"id":"resp_1","id":7}`:             "",
		`{"output":[{"id":"msg_1"}]}`:        "",
		`[{"id":"resp_1"}]`:                  "",
		`{"id":"resp_1"`:                     "",
	} {
		assert.Equal(t, want, answerRead([]byte(body), 3).ResponseID(), body)
		checkAnswerAgrees(t, []byte(body), 1)
	}
}

func TestAnswerUsageReadsAsDecodingReadsIt(t *testing.T) {
	for _, body := range usageBodies() {
		b := []byte(body)
		checkAnswerAgrees(t, b, 1)
		if len(b) < 200 {
			for cut := range len(b) {
				checkAnswerAgrees(t, b, cut, len(b))
			}
		}
	}
}

func TestAnswerUsageReadsTheProvidersAnswersInPiecesOfAnySize(t *testing.T) {
	answers := map[string][]byte{
		"embeddings": samples.EmbeddingsAnswer(3),
		"openai": []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,` +
			`"message":{"role":"assistant","content":"Hi \"there\" \u00e9\n"},"finish_reason":"stop"}],` +
			`"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,` +
			`"prompt_tokens_details":{"cached_tokens":0}}}`),
		"anthropic": []byte(`{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"Hi"}],` +
			`"usage":{"input_tokens":20,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":9}}`),
		"gemini": []byte(`[{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],"usageMetadata":{"promptTokenCount":4}},` +
			`{"candidates":[],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"thoughtsTokenCount":2}}]`),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, body := range answers {
		want := ParseUsage(body)
		require.True(t, want.Known, name)
		for range 200 {
			sizes := []int{1 + rng.IntN(64), 1 + rng.IntN(8), 1 + rng.IntN(4096)}
			assert.Equal(t, want, answerUsage(body, sizes...), "%s in pieces of %v", name, sizes)
		}
	}
}

// An answer of any length is read in the room its usage takes: an
// image's base64 or a long text before the usage is not kept.
func TestAnswerUsageKeepsOnlyTheUsage(t *testing.T) {
	big := strings.Repeat("QUJD", 4<<20) // 16 MiB
	body := []byte(`{"created":1,"data":[{"b64_json":"` + big + `"}],` +
		`"usage":{"input_tokens":50,"output_tokens":4160,"total_tokens":4210}}`)
	var a AnswerUsage
	for p := body; len(p) > 0; {
		n := min(32<<10, len(p))
		_, _ = a.Write(p[:n])
		p = p[n:]
	}
	assert.Equal(t, Usage{InputTokens: 50, OutputTokens: 4160, Known: true}, a.Usage())
	assert.Less(t, cap(a.buf), 1024, "bytes kept to read the usage of a 16 MiB answer")
}

// A usage member given again and again, and interleaved with others,
// takes the room of the last one only: the last member of a name counts,
// as decoding reads it.
func TestAnswerUsageKeepsTheLastMemberOfEachName(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 5000 {
		fmt.Fprintf(&b, `"usage":{"prompt_tokens":%d,"pad":"%s"},"x_groq":{"usage":{"completion_tokens":%d}},`,
			i, strings.Repeat("x", 100), i)
	}
	b.WriteString(`"message":{"usage":{"output_tokens":1}},"x_groq":{"id":"g"}}`)
	body := []byte(b.String())
	want := decodedParseUsage(body)
	require.Equal(t, Usage{InputTokens: 4999, OutputTokens: 1, Known: true}, want)
	assert.Equal(t, want, answerUsage(body, 777))
	var a AnswerUsage
	_, _ = a.Write(body)
	assert.Less(t, cap(a.buf), 1024, "bytes kept to read 5,000 usage objects of which 2 count")
}

// Usage objects larger than maxAnswerKept together are not read; the
// ones that fit still are.
func TestAnswerUsageLeavesAnOversizedUsageUnread(t *testing.T) {
	pad := strings.Repeat("x", maxAnswerKept)
	body := []byte(`{"usageMetadata":{"promptTokenCount":3},"usage":{"prompt_tokens":9,"pad":"` + pad + `"}}`)
	assert.Equal(t, Usage{InputTokens: 3, Known: true}, answerUsage(body, 4096))
}

// Bytes after the answer's object are ignored, as the Decoder ignores
// them; an answer cut short has no usage.
func TestAnswerUsageOfACutOrPaddedAnswer(t *testing.T) {
	body := []byte(`{"usage":{"prompt_tokens":3}}`)
	assert.Equal(t, Usage{InputTokens: 3, Known: true}, answerUsage(append(bytes.Clone(body), "\n{garbage"...)))
	for cut := range len(body) {
		assert.False(t, answerUsage(body[:cut]).Known, "cut at %d", cut)
	}
}

func FuzzAnswerUsageReadsAsDecodingReadsIt(f *testing.F) {
	f.Add([]byte(`{"usage":{"prompt_tokens":3,"completion_tokens":4}}`), uint8(3))
	f.Add([]byte(`[{"usageMetadata":{"promptTokenCount":3,"thoughtsTokenCount":2}}]`), uint8(1))
	f.Add([]byte(`{"message":{"usage":{"input_tokens":7}},"us\u0061ge":null}`), uint8(5))
	f.Add([]byte(`{"x_groq":{"usage":{"prompt_tokens":1e2}},"n":-0.5E-3,"t":[true,false,null]}`), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, piece uint8) {
		checkAnswerAgrees(t, body, int(piece), int(piece)/3+1)
	})
}
