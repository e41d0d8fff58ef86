package fakeprovider

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxBodyBytes bounds the request bodies the server reads.
const maxBodyBytes = 8 << 20

// chatRequest holds the fields of an OpenAI chat completion or Anthropic
// message request that the server looks at.
type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []message       `json:"messages"`
	System              json.RawMessage `json:"system"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// message is one conversation turn; its content is a string or a list of
// content parts.
type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// decodeRequest reads and parses a JSON request body.
func decodeRequest(body io.Reader) (*chatRequest, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %v", err)
	}
	if len(data) > maxBodyBytes {
		return nil, errors.New("the request body is too large")
	}
	var req chatRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("the request body is not valid JSON: %v", err)
	}
	if req.Model == "" {
		return nil, errors.New("model: field required")
	}
	if len(req.Messages) == 0 {
		return nil, errors.New("messages: at least one message is required")
	}
	for _, p := range []*int64{req.MaxTokens, req.MaxCompletionTokens} {
		if p != nil && *p < 1 {
			return nil, fmt.Errorf("max tokens must be at least 1, got %d", *p)
		}
	}
	return &req, nil
}

// maxTokens is the requested cap on output tokens, or 0 when none was given.
func (r *chatRequest) maxTokens() int64 {
	if r.MaxCompletionTokens != nil {
		return *r.MaxCompletionTokens
	}
	if r.MaxTokens != nil {
		return *r.MaxTokens
	}
	return 0
}

// includeUsage reports whether an OpenAI stream should end with a usage
// chunk.
func (r *chatRequest) includeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// promptTokens estimates the input tokens as a quarter of the characters of
// all text, rounded up, and at least 1.
func (r *chatRequest) promptTokens() int64 {
	chars := textLen(r.System)
	for _, m := range r.Messages {
		chars += textLen(m.Content)
	}
	return max(ceilDiv(int64(chars), 4), 1)
}

// textLen counts the characters of content given as a JSON string or as a
// list of parts with a "text" field; anything else counts as empty.
func textLen(raw json.RawMessage) int {
	if len(raw) == 0 {
		return 0
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len([]rune(s))
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return 0
	}
	n := 0
	for _, p := range parts {
		n += len([]rune(p.Text))
	}
	return n
}
