package signals

import (
	"bytes"
	"encoding/json"
	"slices"
)

// MaxLineBytes is the longest server-sent event line StreamUsage
// inspects. Longer lines are skipped without being buffered.
const MaxLineBytes = 1 << 20

// keepLineCap is the buffer capacity StreamUsage retains between lines;
// a larger buffer left by an unusually long line is released.
const keepLineCap = 64 << 10

// StreamUsage extracts token usage from a server-sent event stream as it
// passes by. Write the stream to it (it is an io.Writer, suitable for
// io.TeeReader) and call Usage at any time. It understands OpenAI's final
// chunk carrying "usage" (sent when stream_options.include_usage is set),
// Groq's "x_groq.usage", OpenAI's response.completed event, Anthropic's
// message_start and message_delta events, and Gemini's usageMetadata.
//
// Complete reports whether the stream's terminal event has passed, after
// which its usage is final even if the reader stops before the end of the
// body (openai-go closes a stream when it reads "data: [DONE]").
//
// Lines may be split across Write calls arbitrarily, and end with "\n",
// "\r\n" or "\r". An event whose data spans several "data:" lines is read
// as the format says, its lines joined by newlines. Memory is bounded by
// MaxLineBytes for the pending line, and as much for the pending event's
// data. The zero value is ready to use. A StreamUsage is not safe
// for concurrent use.
type StreamUsage struct {
	line     []byte
	skipping bool
	parts    usageParts
	complete bool
	cr       bool // the last line ended with "\r": a "\n" next ends no line
	// ev is the current event's data: its "data:" lines joined by
	// newlines, read whole when the event ends if there were more than
	// one; while there is one, ev is that line whole. evLines counts
	// them; evOver says they grew past MaxLineBytes.
	ev      []byte
	evLines int
	evOver  bool
}

// Write consumes part of the stream. It never fails.
func (s *StreamUsage) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if s.cr {
			// Only the byte right after a "\r" can finish it.
			s.cr = false
			if p[0] == '\n' {
				p = p[1:] // the end of a "\r\n"
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			s.buffer(p)
			break
		}
		s.buffer(p[:i])
		s.cr = p[i] == '\r'
		if s.skipping {
			s.evOver = true // a data line, perhaps, too long to keep
		} else {
			s.complete = s.endLine(s.line) || s.complete
		}
		s.skipping = false
		if cap(s.line) > keepLineCap {
			s.line = nil
		} else {
			s.line = s.line[:0]
		}
		p = p[i+1:]
	}
	return n, nil
}

// Usage returns the usage seen so far, including a final line that has
// not been terminated yet.
func (s *StreamUsage) Usage() Usage {
	parts := s.parts
	ev, lines, over := s.ev, s.evLines, s.evOver
	if len(s.line) > 0 && !s.skipping {
		_ = parseLine(&parts, s.line)
		if d, ok := dataValue(s.line); ok {
			if lines == 1 {
				ev, _ = dataValue(ev) // the event's one line so far, kept whole
			}
			ev, over = joinData(slices.Clip(ev), lines, d, over)
			lines++
		}
	}
	if lines > 1 && !over && json.Valid(ev) {
		_ = parseData(&parts, ev)
	}
	return parts.usage()
}

// endLine takes in a complete line and reports whether it ends the stream.
// A blank line ends an event: one whose data spanned several lines is read
// whole.
func (s *StreamUsage) endLine(line []byte) (end bool) {
	if len(line) == 0 {
		if s.evLines > 1 && !s.evOver && json.Valid(s.ev) {
			end = parseData(&s.parts, s.ev)
		}
		if cap(s.ev) > keepLineCap {
			s.ev = nil
		}
		s.ev, s.evLines, s.evOver = s.ev[:0], 0, false
		return end
	}
	end = parseLine(&s.parts, line)
	if d, ok := dataValue(line); ok {
		switch s.evLines {
		case 0:
			// Most events have one data line, which is never read
			// again: keep the line's buffer as it is, rather than
			// copying its data, and make the line's buffer the
			// event's. Write hands endLine s.line.
			s.ev, s.line = line, s.ev[:0]
		case 1:
			first, _ := dataValue(s.ev)
			s.ev = s.ev[:copy(s.ev, first)]
			fallthrough
		default:
			s.ev, s.evOver = joinData(s.ev, s.evLines, d, s.evOver)
		}
		s.evLines++
	}
	return end
}

// dataValue returns the value of a "data:" line, without the one space
// that may follow the colon.
func dataValue(line []byte) ([]byte, bool) {
	d, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return nil, false
	}
	d, _ = bytes.CutPrefix(d, []byte(" "))
	return d, true
}

// joinData appends the value d of an event's next data line to ev, which
// holds the lines before it, unless they would grow past MaxLineBytes.
func joinData(ev []byte, lines int, d []byte, over bool) ([]byte, bool) {
	if over || len(ev)+1+len(d) > MaxLineBytes {
		return nil, true
	}
	if lines > 0 {
		ev = append(ev, '\n')
	}
	return append(ev, d...), false
}

// ResponseID returns the "id" of the "response" object of the last event
// that carried one: an OpenAI Responses API stream names its response in
// each of its response.* events, usage among them.
func (s *StreamUsage) ResponseID() string { return s.parts.id }

// Complete reports whether the stream's terminal event has been written:
// OpenAI's "data: [DONE]", Anthropic's message_stop or the Responses API's
// response.completed, response.incomplete (the answer reached its
// max_output_tokens, say) or response.failed, each of which carries the
// response's final usage, or a streamed transcription's
// transcript.text.done, which carries its usage. A stream without one
// (Gemini's) is complete only at its end, which the reader sees and
// StreamUsage does not.
func (s *StreamUsage) Complete() bool { return s.complete }

// buffer appends p to the pending line unless the line has grown too long,
// in which case the rest of it is skipped.
func (s *StreamUsage) buffer(p []byte) {
	if s.skipping {
		return
	}
	n := len(s.line) + len(p)
	if n > MaxLineBytes {
		s.skipping = true
		s.line = nil
		return
	}
	if n > cap(s.line) {
		// Double the buffer, as append does only for small ones: a
		// long line arrives in many writes.
		grown := make([]byte, len(s.line), min(max(n, 2*cap(s.line)), MaxLineBytes))
		copy(grown, s.line)
		s.line = grown
	}
	s.line = append(s.line, p...)
}

// terminalEvents are the types of the events that end a stream: a
// Responses API stream ends with one of its three, a streamed
// transcription with transcript.text.done.
var terminalEvents = []string{"message_stop", "response.completed", "response.incomplete", "response.failed", "transcript.text.done"}

// maxTerminalLine bounds the data lines that are decoded only to see
// whether they are a terminal event: those carry little more than their
// type, or their usage (and are decoded for it anyway).
const maxTerminalLine = 256

// parseLine merges the usage carried by one "data:" line into parts, and
// reports whether the line marks the end of the stream.
func parseLine(parts *usageParts, line []byte) (end bool) {
	if name, ok := bytes.CutPrefix(line, []byte("event:")); ok {
		return slices.Contains(terminalEvents, string(bytes.TrimSpace(name)))
	}
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return false
	}
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		return true
	}
	return parseData(parts, data)
}

// parseData merges the usage carried by the data of an event (one line's,
// or several lines' joined) into parts, and reports whether the event ends
// the stream. Data that does not start with a JSON object is ignored.
func parseData(parts *usageParts, data []byte) (end bool) {
	data = bytes.TrimSpace(data)
	// Most chunks carry only content; skip decoding them.
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	hasUsage := bytes.Contains(data, []byte("usage"))
	if !hasUsage && (len(data) > maxTerminalLine || !bytes.Contains(data, []byte("_stop"))) {
		return false
	}
	m, ok := scanUsageMembers(data, jsonLevels)
	if !ok {
		return false
	}
	if hasUsage {
		parts.merge(m)
	}
	if isObject(m.response) {
		if id := member(m.response, "id"); isString(id) {
			parts.id = stringValue(id)
		}
	}
	return isTerminal(m.typ)
}

// isTerminal reports whether a valid JSON value is a string naming one of
// terminalEvents.
func isTerminal(v []byte) bool {
	if len(v) == 0 || v[0] != '"' {
		return false
	}
	for _, name := range terminalEvents {
		if keyIs(v, name) {
			return true
		}
	}
	return false
}

// ParseStreamUsage returns the usage reported in a complete server-sent
// event stream. See StreamUsage.
func ParseStreamUsage(events []byte) Usage {
	var s StreamUsage
	_, _ = s.Write(events)
	return s.Usage()
}
