package signals

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// modelByDecoding is the reference Model must agree with: the top-level
// "model" member, decoded by encoding/json.
func modelByDecoding(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(m["model"], &s) != nil {
		return ""
	}
	return s
}

func TestModel(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"openai", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "gpt-4o-mini"},
		{"after nested models", `{"tools":[{"model":"inner"}],"meta":{"model":"x"},"model":"claude-haiku-4-5"}`, "claude-haiku-4-5"},
		{"white space", " \n{ \"model\" :\t\"m\" } \n", "m"},
		{"escaped value", `{"model":"gpt\u002d4o"}`, "gpt-4o"},
		{"escaped key", `{"mod\u0065l":"m"}`, "m"},
		{"last key wins", `{"model":"a","model":"b"}`, "b"},
		{"not a string", `{"model":42}`, ""},
		{"null", `{"model":null}`, ""},
		{"absent", `{"messages":[]}`, ""},
		{"nested only", `{"x":{"model":"m"}}`, ""},
		{"an array", `[{"model":"m"}]`, ""},
		{"truncated", `{"model":"m"`, ""},
		{"trailing garbage", `{"model":"m"}x`, ""},
		{"bad escape elsewhere", `{"model":"m","x":"\q"}`, ""},
		{"bad number elsewhere", `{"model":"m","x":01}`, ""},
		{"empty", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Model([]byte(tt.body)))
			assert.Equal(t, modelByDecoding([]byte(tt.body)), Model([]byte(tt.body)), "agrees with encoding/json")
		})
	}
}

func TestModelOfFixtures(t *testing.T) {
	for file, want := range map[string]string{
		"openai_chat_request.json":        "gpt-4o",
		"anthropic_messages_request.json": "claude-sonnet-4-5",
		"openai_responses_request.json":   "gpt-4.1",
		"gemini_request.json":             "", // Gemini names the model in the URL
	} {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "signals", file))
		require.NoError(t, err)
		assert.Equal(t, want, Model(body), file)
	}
}

func TestModelAllocatesNothingForAPlainName(t *testing.T) {
	body := []byte(`{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"temperature":0.5}`)
	allocs := testing.AllocsPerRun(100, func() { _ = Model(body) })
	assert.LessOrEqual(t, allocs, 1.0, "at most the returned string")
}

func FuzzModel(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"a\"b","x":[1,2.5e3,true,null,{"y":"z"}]}`,
		`{"mod\u0065l":"m"}`, `[{"model":"m"}]`, `{"model":"\ud800"}`, `{"model":"m",}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := Model(body), modelByDecoding(body); got != want {
			t.Fatalf("Model(%q) = %q, encoding/json says %q", body, got, want)
		}
	})
}

// Model reads a body as deeply nested as encoding/json decodes, and no
// deeper: a tool's schema nested more than 1,000 levels deep does not
// hide the model.
func TestModelReadsNestingAsDeepAsDecoding(t *testing.T) {
	nested := func(levels int) []byte { // the object is the first level
		return []byte(`{"tools":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `,"model":"m"}`)
	}
	for levels, want := range map[int]string{2000: "m", 10000: "m", 10001: ""} {
		require.Equal(t, want, modelByDecoding(nested(levels)), "%d levels", levels)
		assert.Equal(t, want, Model(nested(levels)), "%d levels", levels)
	}
}
