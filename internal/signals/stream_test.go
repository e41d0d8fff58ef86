package signals

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStreamUsage(t *testing.T) {
	longLine := "data: " + strings.Repeat("x", MaxLineBytes) + `"usage":{"prompt_tokens":999}` + "\n"
	tests := []struct {
		name   string
		events []byte
		want   Usage
	}{
		{"openai fixture", fixture(t, "openai_stream.txt"), Usage{InputTokens: 9, OutputTokens: 12, Known: true}},
		{"anthropic fixture, its cache reads not counted", fixture(t, "anthropic_stream.txt"), Usage{InputTokens: 25, OutputTokens: 15, CacheReadTokens: 10, Known: true}},
		{"openai responses fixture", fixture(t, "openai_responses_stream.txt"), Usage{InputTokens: 37, OutputTokens: 11, Known: true}},
		{"gemini fixture", fixture(t, "gemini_stream.txt"), Usage{InputTokens: 10, OutputTokens: 5, Known: true}},
		{"groq usage under x_groq", []byte(`data: {"choices":[],"x_groq":{"id":"req_1","usage":{"prompt_tokens":4,"completion_tokens":6}}}` + "\n\n"),
			Usage{InputTokens: 4, OutputTokens: 6, Known: true}},
		{"crlf line endings", bytes.ReplaceAll(fixture(t, "openai_stream.txt"), []byte("\n"), []byte("\r\n")),
			Usage{InputTokens: 9, OutputTokens: 12, Known: true}},
		{"unterminated last line", []byte(`data: {"usage":{"prompt_tokens":1,"completion_tokens":2}}`),
			Usage{InputTokens: 1, OutputTokens: 2, Known: true}},
		{"no space after colon", []byte(`data:{"usage":{"input_tokens":3}}` + "\n"), Usage{InputTokens: 3, Known: true}},
		{"anthropic delta with cumulative input", []byte(
			`data: {"type":"message_start","message":{"usage":{"input_tokens":5,"cache_read_input_tokens":7,"output_tokens":1}}}` + "\n" +
				`data: {"type":"message_delta","usage":{"input_tokens":6,"cache_read_input_tokens":null,"output_tokens":9}}` + "\n"),
			Usage{InputTokens: 6, OutputTokens: 9, CacheReadTokens: 7, Known: true}},
		{"over-long line skipped", []byte(longLine + `data: {"usage":{"prompt_tokens":1}}` + "\n"), Usage{InputTokens: 1, Known: true}},
		{"over-long unterminated line skipped", []byte(longLine[:len(longLine)-1]), Usage{}},
		{"comments and other fields ignored", []byte(": keep-alive\nevent: usage\nid: 1\nretry: 100\n\n"), Usage{}},
		{"malformed json ignored", []byte(`data: {"usage":{"prompt_tokens":1}` + "\n"), Usage{}},
		{"done only", []byte("data: [DONE]\n\n"), Usage{}},
		{"empty", nil, Usage{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseStreamUsage(tc.events)
			assert.Equal(t, tc.want, got, "ParseStreamUsage: got %+v, want %+v", got, tc.want)
		})
	}
}

func TestStreamUsageSplitWrites(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Usage
	}{
		{"openai", "openai_stream.txt", Usage{InputTokens: 9, OutputTokens: 12, Known: true}},
		{"anthropic", "anthropic_stream.txt", Usage{InputTokens: 25, OutputTokens: 15, CacheReadTokens: 10, Known: true}},
		{"openai responses", "openai_responses_stream.txt", Usage{InputTokens: 37, OutputTokens: 11, Known: true}},
	}
	for _, tc := range tests {
		events := fixture(t, tc.file)
		t.Run(tc.name+" byte by byte", func(t *testing.T) {
			var s StreamUsage
			for i := range events {
				n, err := s.Write(events[i : i+1])
				require.NoError(t, err)
				require.Equal(t, 1, n)
			}
			got := s.Usage()
			assert.Equal(t, tc.want, got, "got %+v, want %+v", got, tc.want)
		})
		t.Run(tc.name+" random chunks", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(events))))
			for range 20 {
				var s StreamUsage
				for rest := events; len(rest) > 0; {
					k := min(1+rng.IntN(64), len(rest))
					_, _ = s.Write(rest[:k])
					rest = rest[k:]
				}
				got := s.Usage()
				assert.Equal(t, tc.want, got, "got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStreamUsageAsTee(t *testing.T) {
	events := fixture(t, "anthropic_stream.txt")
	var s StreamUsage
	out, err := io.ReadAll(io.TeeReader(bytes.NewReader(events), &s))
	require.NoError(t, err)
	assert.Equal(t, events, out, "stream passed through unchanged")
	want := Usage{InputTokens: 25, OutputTokens: 15, CacheReadTokens: 10, Known: true}
	assert.Equal(t, want, s.Usage(), "got %+v, want %+v", s.Usage(), want)
}

func TestStreamUsageBoundsMemory(t *testing.T) {
	var s StreamUsage
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for range 40 { // 2.5 MiB without a newline
		_, _ = s.Write(chunk)
		require.LessOrEqual(t, cap(s.line), 2*MaxLineBytes, "pending buffer capacity: got %d", cap(s.line))
	}
	_, _ = s.Write([]byte("\ndata: {\"usage\":{\"output_tokens\":2}}\n"))
	assert.LessOrEqual(t, cap(s.line), keepLineCap, "buffer released after long line: got cap %d", cap(s.line))
	want := Usage{OutputTokens: 2, Known: true}
	assert.Equal(t, want, s.Usage(), "got %+v, want %+v", s.Usage(), want)
}

func TestStreamUsageIsRepeatable(t *testing.T) {
	var s StreamUsage
	_, _ = s.Write([]byte(`data: {"usage":{"prompt_tokens":4}}`))
	first := s.Usage()
	second := s.Usage()
	assert.Equal(t, first, second, "Usage is idempotent: got %+v then %+v", first, second)
	_, _ = s.Write([]byte("\n"))
	assert.Equal(t, first, s.Usage(), "terminating the line keeps the result: got %+v, want %+v", s.Usage(), first)
}

func TestStreamUsageCompletesAtTheTerminalEvent(t *testing.T) {
	for _, tc := range []struct {
		file, marker string // marker begins the terminal event; "" if none
	}{
		{"openai_stream.txt", "data: [DONE]"},
		{"anthropic_stream.txt", "event: message_stop"},
		{"openai_responses_stream.txt", "event: response.completed"},
		{"gemini_stream.txt", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			events := fixture(t, tc.file)
			if tc.marker == "" {
				assert.False(t, writeAll(events).Complete(), "a stream without a terminal event completes only at its end")
				return
			}
			i := bytes.Index(events, []byte(tc.marker))
			require.Positive(t, i, "the fixture has its terminal event")
			assert.False(t, writeAll(events[:i]).Complete(), "not complete before the terminal event")
			assert.True(t, writeAll(events).Complete(), "complete after it")
			var s StreamUsage // byte by byte
			for k := range events {
				_, _ = s.Write(events[k : k+1])
			}
			assert.True(t, s.Complete(), "complete however the stream is split")
		})
	}
	for _, tc := range []struct {
		name, events string
		want         bool
	}{
		{"done", "data: [DONE]\n", true},
		{"message_stop data alone", "data: {\"type\": \"message_stop\"}\n", true},
		{"response.completed data alone", `data: {"type":"response.completed","response":{"usage":{"input_tokens":1}}}` + "\n", true},
		{"response.incomplete", "event: response.incomplete\n" + `data: {"type":"response.incomplete","response":{"status":"incomplete","usage":{"input_tokens":1}}}` + "\n", true},
		{"response.failed data alone", `data: {"type":"response.failed","response":{"status":"failed","usage":null}}` + "\n", true},
		{"transcript.text.done", `data: {"type":"transcript.text.done","text":"Hi","usage":{"type":"tokens","input_tokens":14,"output_tokens":45,"total_tokens":59}}` + "\n", true},
		{"transcript.text.delta", `data: {"type":"transcript.text.delta","delta":"Hi"}` + "\n", false},
		{"response.in_progress", "event: response.in_progress\n" + `data: {"type":"response.in_progress","response":{"usage":null}}` + "\n", false},
		{"unterminated done", "data: [DONE]", false},
		{"content that reads [DONE]", `data: {"choices":[{"delta":{"content":"[DONE]"}}]}` + "\n", false},
		{"content that reads message_stop", `data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"message_stop"}}` + "\n", false},
		{"content event named like one", "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, writeAll([]byte(tc.events)).Complete())
		})
	}
}

// writeAll returns a StreamUsage that has been written events.
func writeAll(events []byte) *StreamUsage {
	var s StreamUsage
	_, _ = s.Write(events)
	return &s
}

// An event's data may span several "data:" lines, which the event stream
// format joins with newlines (and the SDKs decode whole): the usage of such
// an event counts, however its lines end and however the stream is split.
func TestStreamUsageReadsDataSplitOverLines(t *testing.T) {
	start := `event: message_start` + "\n" +
		`data: {"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}` + "\n\n"
	delta := "event: message_delta\n" +
		"data: {\"type\":\"message_delta\",\n" +
		"data: \"usage\":{\"output_tokens\":15}}\n\n" +
		"event: message_stop\n" +
		"data: {\"type\":\"message_stop\"}\n\n"
	want := Usage{InputTokens: 5, OutputTokens: 15, Known: true}
	for _, eol := range []string{"\n", "\r\n", "\r"} {
		events := []byte(strings.ReplaceAll(start+delta, "\n", eol))
		t.Run(strconv.Quote(eol), func(t *testing.T) {
			assert.Equal(t, want, ParseStreamUsage(events))
			var s StreamUsage // byte by byte
			for k := range events {
				_, _ = s.Write(events[k : k+1])
			}
			assert.Equal(t, want, s.Usage())
			assert.True(t, s.Complete())
		})
	}
	t.Run("unterminated", func(t *testing.T) {
		events := start + "data: {\"type\":\"message_delta\",\ndata: \"usage\":{\"output_tokens\":15}}"
		assert.Equal(t, want, ParseStreamUsage([]byte(events)))
	})
	t.Run("split response.completed", func(t *testing.T) {
		events := "event: response.completed\ndata: {\"type\":\"response.completed\",\ndata: \"response\":{\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}}\n\n"
		s := writeAll([]byte(events))
		assert.Equal(t, Usage{InputTokens: 3, OutputTokens: 4, Known: true}, s.Usage())
		assert.True(t, s.Complete())
	})
	t.Run("each line a value of its own", func(t *testing.T) {
		// Not one JSON value once joined: each line is read alone, the
		// later figure replacing the earlier.
		events := "data: {\"usage\":{\"output_tokens\":1}}\ndata: {\"usage\":{\"output_tokens\":2}}\n\n"
		assert.Equal(t, Usage{OutputTokens: 2, Known: true}, ParseStreamUsage([]byte(events)))
	})
}

// A Responses API stream names its response in its response.* events,
// which a later request may continue with previous_response_id; the
// streams of the other APIs name none.
func TestStreamUsageReadsTheResponsesID(t *testing.T) {
	for name, want := range map[string]string{
		"openai_responses_stream.txt": "resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
		"openai_stream.txt":           "",
		"anthropic_stream.txt":        "",
	} {
		var s StreamUsage
		events := fixture(t, name)
		for p := events; len(p) > 0; {
			n := min(7, len(p))
			_, _ = s.Write(p[:n])
			p = p[n:]
		}
		assert.Equal(t, want, s.ResponseID(), name)
	}
}
