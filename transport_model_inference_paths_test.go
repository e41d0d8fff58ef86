package ratellmiter

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Azure AI's model inference API puts its operations under /models/
// (/models/chat/completions, /models/embeddings, /models/info), where a
// Gemini path puts a model's name: a request there is for the model its
// body names, or, naming none, for no model in particular (the default
// limiter), never for a model called "chat" or "embeddings".
func TestModelOfReadsNoModelFromTheOperationsOfAzureAIInference(t *testing.T) {
	for _, c := range []struct{ body, path, want string }{
		{`{"messages":[]}`, "/models/chat/completions", ""},
		{`{"model":"Phi-4","messages":[]}`, "/models/chat/completions", "Phi-4"},
		{`{"input":["hi"]}`, "/models/embeddings", ""},
		{`{"input":[]}`, "/models/images/embeddings", ""},
		{``, "/models/info", ""},
		{`{"messages":[]}`, "/api/models/completions", ""},
		{`{"input":"hi"}`, "/models/audio/transcriptions", ""},
		// A Gemini model's path is read as before.
		{`{"contents":[]}`, "/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"},
	} {
		req, err := http.NewRequest(http.MethodPost, "https://example.services.ai.azure.com"+c.path+"?api-version=2024-05-01-preview", nil)
		require.NoError(t, err)
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		assert.Equal(t, c.want, modelOf(body, req), "%s %s", c.path, c.body)
	}
}
