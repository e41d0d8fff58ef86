package fakeprovider

import "net/http"

// streamOpenAI writes a reply as chat.completion.chunk events ending with
// "data: [DONE]".
func streamOpenAI(w http.ResponseWriter, req *chatRequest, rep reply) {
	s := startSSE(w)
	chunk := func(choices []any) map[string]any {
		return map[string]any{
			"id":      openAIID(rep),
			"object":  "chat.completion.chunk",
			"created": rep.created.Unix(),
			"model":   rep.model,
			"choices": choices,
		}
	}
	choice := func(delta map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}
	}
	if !s.event("", chunk(choice(map[string]any{"role": "assistant", "content": ""}, nil))) {
		return
	}
	for _, word := range rep.words {
		if !s.event("", chunk(choice(map[string]any{"content": word}, nil))) {
			return
		}
	}
	if !s.event("", chunk(choice(map[string]any{}, openAIFinishReason(rep)))) {
		return
	}
	if req.includeUsage() {
		last := chunk([]any{})
		last["usage"] = openAIUsage(rep)
		if !s.event("", last) {
			return
		}
	}
	s.event("", "[DONE]")
}
