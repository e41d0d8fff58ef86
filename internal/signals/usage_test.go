package signals

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseUsage(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want Usage
	}{
		{"openai chat fixture", fixture(t, "openai_chat_response.json"), Usage{InputTokens: 19, OutputTokens: 10, Known: true}},
		{"openai responses fixture", fixture(t, "openai_responses_response.json"), Usage{InputTokens: 36, OutputTokens: 87, Known: true}},
		{"anthropic fixture counts cache writes, not reads", fixture(t, "anthropic_message_response.json"), Usage{InputTokens: 2095 + 100, OutputTokens: 503, CacheReadTokens: 1000, CacheWriteTokens: 100, Known: true}},
		{"anthropic cache reads alone", []byte(`{"usage":{"cache_read_input_tokens":900}}`), Usage{CacheReadTokens: 900, Known: true}},
		{"gemini fixture includes thoughts", fixture(t, "gemini_response.json"), Usage{InputTokens: 8, OutputTokens: 7 + 25, Known: true}},
		{"gemini array keeps last totals", []byte(`[{"usageMetadata":{"promptTokenCount":3}},{"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4}}]`),
			Usage{InputTokens: 3, OutputTokens: 4, Known: true}},
		{"input only", []byte(`{"usage":{"input_tokens":5}}`), Usage{InputTokens: 5, Known: true}},
		{"zero counts are known", []byte(`{"usage":{"prompt_tokens":0,"completion_tokens":0}}`), Usage{Known: true}},
		{"two names for input read deterministically", []byte(`{"usage":{"input_tokens":2,"prompt_tokens":1}}`), Usage{InputTokens: 2, Known: true}},
		{"null usage", []byte(`{"usage":null}`), Usage{}},
		{"usage of wrong type", []byte(`{"usage":"lots"}`), Usage{}},
		{"negative counts ignored", []byte(`{"usage":{"prompt_tokens":-1,"completion_tokens":2}}`), Usage{OutputTokens: 2, Known: true}},
		{"string counts ignored", []byte(`{"usage":{"prompt_tokens":"7"}}`), Usage{}},
		{"huge counts capped", []byte(`{"usage":{"prompt_tokens":1e400}}`), Usage{InputTokens: maxCount, Known: true}},
		{"no usage", []byte(`{"id":"x"}`), Usage{}},
		{"error body", fixture(t, "anthropic_429.json"), Usage{}},
		{"not json", []byte("internal error"), Usage{}},
		{"empty", nil, Usage{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseUsage(tc.body)
			assert.Equal(t, tc.want, got, "ParseUsage(%q): got %+v, want %+v", tc.body, got, tc.want)
		})
	}
}
