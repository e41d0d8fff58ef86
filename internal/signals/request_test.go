package signals

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// toolsJSON is a tool definition in compact JSON.
const toolsJSON = `[{"type":"function","function":{"name":"get_weather","description":"Get the weather","strict":true,"parameters":{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer","maximum":7}},"required":["city"],"additionalProperties":false}}},{"name":"x","input_schema":null}]`

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want Request
	}{
		{"openai chat fixture", fixture(t, "openai_chat_request.json"),
			Request{Model: "gpt-4o", MaxTokens: 256, PromptChars: 28 + 22, ImageTokens: 1445, UnsizedImageTokens: 1445, Messages: 2, Stream: true}},
		{"anthropic messages fixture", fixture(t, "anthropic_messages_request.json"),
			Request{Model: "claude-sonnet-4-5", MaxTokens: 1024, PromptChars: 21 + 13 + 7 + 10, Messages: 3}},
		{"openai responses fixture", fixture(t, "openai_responses_request.json"),
			Request{Model: "gpt-4.1", MaxTokens: 500, PromptChars: 9 + 14, Messages: 1}},
		{"gemini fixture", fixture(t, "gemini_request.json"),
			Request{MaxTokens: 800, PromptChars: 14 + 11, Messages: 1}},
		{"legacy completion prompt string", []byte(`{"model":"gpt-3.5-turbo-instruct","prompt":"Say this is a test","max_tokens":7}`),
			Request{Model: "gpt-3.5-turbo-instruct", MaxTokens: 7, PromptChars: 18}},
		{"prompt array of strings", []byte(`{"prompt":["ab","cde"]}`),
			Request{PromptChars: 5}},
		{"responses tool call and its output", []byte(`{"input":[{"role":"user","content":"weather?"},` +
			`{"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},` +
			`{"type":"function_call_output","call_id":"c1","output":"sunny, 21 degrees"}]}`),
			Request{PromptChars: 8 + 16 + 17, Messages: 3}},
		{"input string", []byte(`{"model":"text-embedding-3-small","input":"hello"}`),
			Request{Model: "text-embedding-3-small", PromptChars: 5}},
		{"gemini embedContent", []byte(`{"content":{"parts":[{"text":"hello"},{"text":"world!"}]},"taskType":"RETRIEVAL_DOCUMENT"}`),
			Request{PromptChars: 5 + 6}},
		{"gemini batchEmbedContents", []byte(`{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"one"}]}},` +
			`{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"three"}]}}]}`),
			Request{PromptChars: 3 + 5}},
		{"max_tokens preferred over max_completion_tokens", []byte(`{"max_tokens":10,"max_completion_tokens":20}`),
			Request{MaxTokens: 10}},
		{"n completions", []byte(`{"model":"gpt-4o","n":3,"max_completion_tokens":100}`),
			Request{Model: "gpt-4o", MaxTokens: 100, Choices: 3}},
		{"best_of larger than n", []byte(`{"prompt":"x","max_tokens":10,"n":2,"best_of":5}`),
			Request{MaxTokens: 10, Choices: 5, PromptChars: 1}},
		{"gemini candidateCount", []byte(`{"generationConfig":{"maxOutputTokens":50,"candidateCount":2}}`),
			Request{MaxTokens: 50, Choices: 2}},
		{"tool definitions", []byte(`{"messages":[{"role":"user","content":"hi"}],"tools":` + toolsJSON + `}`),
			Request{PromptChars: 2 + int64(len(toolsJSON)), Messages: 1}},
		{"legacy function definitions", []byte(`{"functions":[{"name":"f","parameters":{"type":"object","properties":{}}}]}`),
			Request{PromptChars: int64(len(`[{"name":"f","parameters":{"type":"object","properties":{}}}]`))}},
		{"responses function call and its output", []byte(`{"input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{\"a\":1}"},{"type":"function_call_output","call_id":"c","output":"result"},{"type":"function_call_output","call_id":"d","output":[{"type":"input_text","text":"abc"},{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}`),
			Request{PromptChars: 7 + 6 + 3, ImageTokens: 1445, UnsizedImageTokens: 1445, Messages: 3}},
		{"chat tool calls", []byte(`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"ok"}]}`),
			Request{PromptChars: int64(len(`[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]`)) + 2, Messages: 2}},
		{"anthropic tool use and result", []byte(`{"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{"q":"x"}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"found"}]}]}`),
			Request{PromptChars: int64(len(`{"q":"x"}`)) + 5, Messages: 2}},
		{"gemini function call and response", []byte(`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{"q":"x"}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"r":"y"}}}]}]}`),
			Request{PromptChars: int64(len(`{"name":"f","args":{"q":"x"}}`)) + int64(len(`{"r":"y"}`)), Messages: 2}},
		{"anthropic text documents", []byte(`{"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"green grass"}},{"type":"document","source":{"type":"content","content":[{"type":"text","text":"blue sky"}]}},{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}},{"type":"search_result","source":"https://example.com","title":"t","content":[{"type":"text","text":"abc"}]}]}]}`),
			// The base64 PDF, 6 bytes with no page object, is charged
			// one page estimated from its size.
			Request{PromptChars: 11 + 8 + 3, DocumentTokens: 3000, Messages: 1}},
		{"embedding inputs are no messages", []byte(`{"input":["ab","cd"]}`), Request{PromptChars: 4}},
		{"token array input", []byte(`{"input":[1,2,3,4]}`), Request{PromptChars: 4 * 4}},
		{"token arrays input", []byte(`{"input":[[1,2,3],[4,5]]}`), Request{PromptChars: 5 * 4}},
		{"token array prompt", []byte(`{"prompt":[9,8,7]}`), Request{PromptChars: 3 * 4}},
		{"whole float max tokens", []byte(`{"max_tokens":100.0}`), Request{MaxTokens: 100}},
		{"exponent max tokens", []byte(`{"max_tokens":1e3}`), Request{MaxTokens: 1000}},
		{"negative max tokens ignored", []byte(`{"max_tokens":-5,"max_completion_tokens":9}`), Request{MaxTokens: 9}},
		{"fractional max tokens ignored", []byte(`{"max_tokens":1.5}`), Request{}},
		{"string max tokens ignored", []byte(`{"max_tokens":"100"}`), Request{}},
		{"huge max tokens capped", []byte(`{"max_tokens":1e300}`), Request{MaxTokens: maxCount}},
		{"non-ascii counted in bytes", []byte(`{"messages":[{"role":"user","content":"héllo"}]}`),
			Request{PromptChars: 6, Messages: 1}},
		{"wrong types tolerated", []byte(`{"model":5,"stream":"yes","messages":{"content":"x"},"system":42}`),
			Request{PromptChars: 1}},
		{"null content", []byte(`{"messages":[{"role":"assistant","content":null}]}`), Request{Messages: 1}},
		{"deep nesting stops", []byte(`{"prompt":[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]}`), Request{}},
		{"not json", []byte("model=gpt-4o"), Request{}},
		{"json array", []byte(`[{"model":"x"}]`), Request{}},
		{"empty", nil, Request{}},
		{"null", []byte("null"), Request{}},
		{"truncated", []byte(`{"model":"gpt-4o","messages":[`), Request{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseRequest(tc.body)
			assert.Equal(t, tc.want, got, "ParseRequest(%q): got %+v, want %+v", tc.body, got, tc.want)
		})
	}
}

func TestRequestEstimateTokens(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want int64
	}{
		{"zero", Request{}, 0},
		{"output only", Request{MaxTokens: 100}, 100},
		{"prompt rounds down", Request{PromptChars: 7}, 1},
		{"all parts", Request{MaxTokens: 256, PromptChars: 400, Messages: 2}, 256 + 100 + 2*PerMessageTokens},
		{"negative fields ignored", Request{MaxTokens: -10, PromptChars: -40, Messages: -1}, 0},
		{"saturates", Request{MaxTokens: math.MaxInt64, PromptChars: math.MaxInt64, Messages: math.MaxInt64}, math.MaxInt64},
		{"each choice may use max tokens", Request{MaxTokens: 100, Choices: 3, PromptChars: 40}, 300 + 10},
		{"zero choices is one", Request{MaxTokens: 100, Choices: 0}, 100},
		{"saturates on choices", Request{MaxTokens: math.MaxInt64 / 2, Choices: 3}, math.MaxInt64},
		{"saturates on messages", Request{Messages: math.MaxInt64 / 2}, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.req.EstimateTokens()
			assert.Equal(t, tc.want, got, "%+v.EstimateTokens(): got %d, want %d", tc.req, got, tc.want)
		})
	}
}
