package fakeprovider

import "net/http"

// streamAnthropic writes a reply as Anthropic's event sequence:
// message_start, content_block_start, ping, content_block_delta per token,
// content_block_stop, message_delta and message_stop.
func streamAnthropic(w http.ResponseWriter, rep reply) {
	s := startSSE(w)
	start := anthropicMessage(rep, []any{}, nil, map[string]any{"input_tokens": rep.input, "output_tokens": 1})
	ok := s.event("message_start", map[string]any{"type": "message_start", "message": start}) &&
		s.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}}) &&
		s.event("ping", map[string]any{"type": "ping"})
	for _, word := range rep.words {
		if !ok {
			return
		}
		ok = s.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": word}})
	}
	_ = ok &&
		s.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}) &&
		s.event("message_delta", map[string]any{"type": "message_delta",
			"delta": map[string]any{"stop_reason": anthropicStopReason(rep), "stop_sequence": nil},
			"usage": map[string]any{"output_tokens": rep.output}}) &&
		s.event("message_stop", map[string]any{"type": "message_stop"})
}
