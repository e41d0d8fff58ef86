package ratellmiter

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// modelOf returns the model a request is for, as the caller names it: the
// deployment of an Azure OpenAI path (see azureDeployment), or else the
// "model" field of its JSON body (without the "models/" that Gemini's SDK
// puts before a model's name there, as in a cache it creates, nor the
// "projects/P/locations/L/publishers/google/models/" that it puts there
// for Vertex AI, or any Vertex AI name of that shape, of any publisher,
// with or without its "projects/P/locations/L/" (see isPublisher); any
// other name is kept whole, slashes and all, as
// Fireworks' "accounts/A/models/NAME" and a vLLM model served from a
// folder's path), or else the
// model of a Gemini-style path (".../models/NAME" or
// ".../models/NAME:method" gives NAME, ".../tunedModels/NAME:method"
// gives "tunedModels/NAME", for the methods of modelMethods; not the
// operations of Azure AI's model inference, /models/chat/completions), or
// of an Amazon Bedrock path (see bedrockModel); "" when none says.
func modelOf(body []byte, req *http.Request) string {
	if d := azureDeployment(req); d != "" {
		return d
	}
	if m := signals.Model(body); m != "" {
		if k := strings.LastIndex(m, "/models/"); k >= 0 && isPublisher(m[:k]) {
			return m[k+len("/models/"):]
		}
		return strings.TrimPrefix(m, "models/")
	}
	return pathModel(req)
}

// isPublisher reports whether p is the part of a Vertex AI model's full
// name before its "/models/": "publishers/PUB", or
// "projects/P/locations/L/publishers/PUB".
func isPublisher(p string) bool {
	s := strings.Split(p, "/")
	switch len(s) {
	case 2:
		return s[0] == "publishers"
	case 6:
		return s[0] == "projects" && s[2] == "locations" && s[4] == "publishers"
	}
	return false
}

// azureDeployment returns the deployment that an Azure OpenAI path names
// before its operation, ".../openai/deployments/NAME/chat/completions"
// giving NAME, or "". The quota is the deployment's, and the server
// serves the deployment whatever model the body names, if it names one.
func azureDeployment(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	_, rest, ok := strings.Cut(req.URL.Path, "/openai/deployments/")
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, "/")
	if !ok {
		return "" // the deployment itself, not one of its operations
	}
	return name
}

// pathModel returns the model of req's Gemini-style path, as modelOf
// reads it, or "".
func pathModel(req *http.Request) string {
	if req.URL == nil {
		return ""
	}
	p := req.URL.Path
	var m, prefix string
	i, j := strings.LastIndex(p, "/models/"), strings.LastIndex(p, "/tunedModels/")
	switch {
	case j > i:
		m, prefix = p[j+len("/tunedModels/"):], "tunedModels/"
	case i >= 0:
		m = p[i+len("/models/"):]
	default:
		return bedrockModel(req.URL)
	}
	if k := strings.IndexByte(m, '/'); k >= 0 {
		m = m[:k]
	}
	if k := strings.LastIndexByte(m, ':'); k >= 0 && modelMethods[m[k+1:]] {
		m = m[:k]
	}
	if m == "" || prefix == "" && inferenceOperations[m] {
		return ""
	}
	return prefix + m
}

// inferenceOperations are the operations that Azure AI's model inference
// API puts under /models/ (/models/chat/completions, /models/info), where
// a Gemini-style path puts a model's name: a path there names no model.
var inferenceOperations = map[string]bool{
	"chat": true, "completions": true, "embeddings": true, "images": true, "audio": true, "info": true,
}

// modelMethods are the methods that a Gemini-style path names after its
// model, "models/NAME:method" (Gemini's and Vertex AI's); a colon followed
// by anything else is part of the name, as in OpenAI's fine-tuned models
// ("models/ft:gpt-4o-mini:org::id").
var modelMethods = map[string]bool{
	"generateContent": true, "streamGenerateContent": true,
	"countTokens": true, "computeTokens": true,
	"embedContent": true, "batchEmbedContents": true, "asyncBatchEmbedContent": true,
	"batchGenerateContent": true, "generateAnswer": true,
	"predict": true, "predictLongRunning": true, "rawPredict": true, "streamRawPredict": true,
}

// bedrockModel returns the model of an Amazon Bedrock runtime path,
// /model/{modelId}/{method} for the methods of bedrockMethods, as the
// caller names it: a model id ("anthropic.claude-3-5-haiku-20241022-v1:0"),
// an inference profile ("us.anthropic...") or an ARN, which the SDKs send
// escaped ("%3A", "%2F") and which is unescaped here; "" for any other path.
func bedrockModel(u *url.URL) string {
	p := u.EscapedPath()
	i := strings.LastIndex(p, "/model/")
	if i < 0 {
		return ""
	}
	m := p[i+len("/model/"):]
	k := strings.LastIndexByte(m, '/')
	if k <= 0 || !bedrockMethods[m[k+1:]] {
		return ""
	}
	name, err := url.PathUnescape(m[:k])
	if err != nil {
		return ""
	}
	return name
}

// bedrockMethods are the methods of Amazon Bedrock's runtime API that name
// their model in the path, /model/{modelId}/{method}.
var bedrockMethods = map[string]bool{
	"invoke": true, "invoke-with-response-stream": true, "invoke-with-bidirectional-stream": true,
	"converse": true, "converse-stream": true, "count-tokens": true,
}

// streamsBody reports whether req's body is the caller's half of a
// bidirectional stream, which the server reads as it is written while its
// answer comes back: Amazon Bedrock's
// /model/{modelId}/invoke-with-bidirectional-stream, whose body the AWS
// SDK writes event by event, with no length and no Content-Type. Such a
// body is sent as it comes, never read nor kept, and so is not sent again
// after a 429: the refusal is handed back.
func streamsBody(req *http.Request) bool {
	return req.URL != nil && strings.HasSuffix(req.URL.Path, "/invoke-with-bidirectional-stream") &&
		bedrockModel(req.URL) != ""
}
