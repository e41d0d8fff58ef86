package signals

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A router that serves OpenAI's models under the vendor's name
// (OpenRouter's "openai/gpt-4o-mini", a gateway's "azure/openai/gpt-5")
// sends requests the model counts images for by its own rule: the name
// after the last slash decides it, as it decides a Gemini model's.
func TestOpenAIImageRuleReadsTheModelAfterAVendorPrefix(t *testing.T) {
	for _, tc := range []struct{ routed, model string }{
		{"openai/gpt-4o-mini", "gpt-4o-mini"},
		{"azure/openai/gpt-5", "gpt-5"},
		{"openai/o4-mini", "o4-mini"},
		{"openai/gpt-4o", "gpt-4o"},
	} {
		assert.Equal(t, openAIImageRule(tc.model, false), openAIImageRule(tc.routed, false), tc.routed)
	}
	png := encodedImage(t, "png", 1024, 1024)
	body := strings.Replace(chatImageBody(dataURL("image/png", png), "high"), `"gpt-4o"`, `"openai/gpt-4o-mini"`, 1)
	assert.Equal(t, int64(2833+4*5667), ParseRequest([]byte(body)).ImageTokens, "the body's model decides")
}
