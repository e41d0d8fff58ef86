package signals

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Gemini's OpenAI-compatible endpoint (and xAI's) leaves a thinking
// model's reasoning out of completion_tokens but counts it in
// total_tokens, as the provider counts it against the limits: what the
// total counts beyond the prompt and the completion is output. Read
// from completion_tokens alone, the stream below cost 12 tokens where
// it cost 105.
func TestUsageCountsWhatTotalTokensHasBeyondPromptAndCompletionAsOutput(t *testing.T) {
	geminiStream := `data: {"choices":[{"delta":{"content":"1","role":"assistant"},"index":0}],"object":"chat.completion.chunk","usage":{"completion_tokens":1,"prompt_tokens":9,"total_tokens":103}}` + "\n\n" +
		`data: {"choices":[{"delta":{"content":", 2","role":"assistant"},"finish_reason":"stop","index":0}],"object":"chat.completion.chunk","usage":{"completion_tokens":3,"prompt_tokens":9,"total_tokens":105}}` + "\n\n" +
		"data: [DONE]\n\n"
	assert.Equal(t, Usage{InputTokens: 9, OutputTokens: 96, Known: true}, ParseStreamUsage([]byte(geminiStream)), "Gemini's stream")

	tests := []struct {
		name, body string
		want       Usage
	}{
		{"gemini answer", `{"object":"chat.completion","choices":[],"usage":{"completion_tokens":8,"prompt_tokens":9,"total_tokens":620}}`,
			Usage{InputTokens: 9, OutputTokens: 611, Known: true}},
		{"xai answer", `{"usage":{"prompt_tokens":20,"completion_tokens":151,"total_tokens":553,"completion_tokens_details":{"reasoning_tokens":382}}}`,
			Usage{InputTokens: 20, OutputTokens: 533, Known: true}},
		{"openai answer, whose total adds up", `{"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}`,
			Usage{InputTokens: 12, OutputTokens: 7, Known: true}},
		{"responses answer, whose total adds up", `{"usage":{"input_tokens":50,"output_tokens":4160,"total_tokens":4210}}`,
			Usage{InputTokens: 50, OutputTokens: 4160, Known: true}},
		{"a total below the sum changes nothing", `{"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":3}}`,
			Usage{InputTokens: 12, OutputTokens: 7, Known: true}},
		{"a total alone says nothing of the split", `{"usage":{"total_tokens":30}}`, Usage{}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, ParseUsage([]byte(tc.body)), tc.name)
	}
}
