package signals

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// copyingStreamUsage is StreamUsage as it was when it copied every data
// line: the reference the buffer-saving one must agree with.
type copyingStreamUsage struct {
	line     []byte
	skipping bool
	parts    usageParts
	complete bool
	cr       bool // the last line ended with "\r": a "\n" next ends no line
	// ev is the current event's data: its "data:" lines joined by
	// newlines, read whole when the event ends if there were more than
	// one. evLines counts them; evOver says they grew past MaxLineBytes.
	ev      []byte
	evLines int
	evOver  bool
}

func (s *copyingStreamUsage) Write(p []byte) (int, error) {
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

func (s *copyingStreamUsage) Usage() Usage {
	parts := s.parts
	ev, lines, over := s.ev, s.evLines, s.evOver
	if len(s.line) > 0 && !s.skipping {
		_ = parseLine(&parts, s.line)
		if d, ok := dataValue(s.line); ok {
			ev, over = copyingJoinData(slices.Clip(ev), lines, d, over)
			lines++
		}
	}
	if lines > 1 && !over && json.Valid(ev) {
		_ = parseData(&parts, ev)
	}
	return parts.usage()
}

func (s *copyingStreamUsage) endLine(line []byte) (end bool) {
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
		s.ev, s.evOver = copyingJoinData(s.ev, s.evLines, d, s.evOver)
		s.evLines++
	}
	return end
}

func copyingJoinData(ev []byte, lines int, d []byte, over bool) ([]byte, bool) {
	if over || len(ev)+1+len(d) > MaxLineBytes {
		return nil, true
	}
	if lines > 0 {
		ev = append(ev, '\n')
	}
	return append(ev, d...), false
}

func (s *copyingStreamUsage) buffer(p []byte) {
	if s.skipping {
		return
	}
	if len(s.line)+len(p) > MaxLineBytes {
		s.skipping = true
		s.line = nil
		return
	}
	s.line = append(s.line, p...)
}

// A stream's usage does not depend on how its lines are buffered: the
// same as copying every line, whatever the chunking.
func FuzzStreamUsageAgreesWithCopying(f *testing.F) {
	f.Add([]byte("data: {\"usage\":{\"prompt_tokens\":1}}\r\ndata: {\"usage\":{\"completion_tokens\":2}}"), uint(10))
	f.Add([]byte("data: {\"usage\":\ndata: {\"prompt_tokens\":3}}\n\ndata: {\"type\":\"message_stop\"}\n\n"), uint(7))
	f.Add([]byte("event: x\ndata:{\"a\":\ndata: 1,\"usage\":{\"output_tokens\":4}}\n\n: ping\n"), uint(3))
	f.Add([]byte("data: {\"usage\":\rdata: {\"input_tokens\":5}}\rdata: }"), uint(1))
	f.Fuzz(func(t *testing.T, events []byte, split uint) {
		k := int(split % uint(len(events)+1))
		var s StreamUsage
		var ref copyingStreamUsage
		_, _ = s.Write(events[:k])
		_, _ = ref.Write(events[:k])
		if s.Usage() != ref.Usage() || s.Complete() != ref.complete {
			t.Fatalf("after %d bytes: %+v, %v; copying gives %+v, %v", k, s.Usage(), s.Complete(), ref.Usage(), ref.complete)
		}
		_, _ = s.Write(events[k:])
		_, _ = ref.Write(events[k:])
		if s.Usage() != ref.Usage() || s.Complete() != ref.complete {
			t.Fatalf("at the end: %+v, %v; copying gives %+v, %v", s.Usage(), s.Complete(), ref.Usage(), ref.complete)
		}
	})
}

// Long events (a Responses stream's partial images, say) are buffered
// once each, in a buffer that doubles: a stream of 20 events of 800 KB,
// written 16 KB at a time, allocated six times its length before.
func TestStreamUsageBuffersLongEventsOnce(t *testing.T) {
	stream := samples.ImageStream(20, 800<<10)
	var got Usage
	allocated := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s StreamUsage
			for p := stream; len(p) > 0; {
				n := min(16<<10, len(p))
				_, _ = s.Write(p[:n])
				p = p[n:]
			}
			got = s.Usage()
		}
	}).AllocedBytesPerOp()
	assert.Equal(t, Usage{InputTokens: 20, OutputTokens: 1500, Known: true}, got)
	assert.Less(t, allocated, int64(len(stream))*3, "bytes allocated for a stream of %d bytes", len(stream))
}

func TestStreamUsageAgreesWithCopyingOnLongLines(t *testing.T) {
	pad := func(n int) string { return `"pad":"` + string(bytes.Repeat([]byte("x"), n)) + `"` }
	usage := `"usage":{"prompt_tokens":7,"completion_tokens":9}`
	for _, stream := range []string{
		"data: {" + usage + "," + pad(MaxLineBytes-100) + "}\n\n",
		"data: {" + usage + "," + pad(MaxLineBytes) + "}\n\n",
		"data: {" + usage + ",\ndata: " + pad(MaxLineBytes/2) + "}\n\n",
		"data: {" + usage + ",\ndata: " + pad(MaxLineBytes-80) + "}\n\n",
		"data: {" + pad(MaxLineBytes-60) + ",\ndata: " + usage + "}\n\n",
		"data: {" + pad(MaxLineBytes/2) + ",\ndata: " + pad(MaxLineBytes/2) + ",\ndata: " + usage + "}\n\n",
		"data: {" + usage + "," + pad(MaxLineBytes/2) + "}\n\ndata: {" + usage + ",\ndata: \"x\":1}",
		"data: {" + usage + ",\ndata: " + pad(MaxLineBytes/2) + "}",
		"data: {" + usage + "}\r\ndata: " + pad(100) + "\r\r" + "data: {\"type\":\"message_stop\"}\r\n\r\n",
	} {
		for _, chunk := range []int{1 << 10, 16 << 10, 1 << 20, len(stream)} {
			var s StreamUsage
			var ref copyingStreamUsage
			for p := []byte(stream); len(p) > 0; {
				n := min(chunk, len(p))
				_, _ = s.Write(p[:n])
				_, _ = ref.Write(p[:n])
				p = p[n:]
			}
			assert.Equal(t, ref.Usage(), s.Usage(), "stream of %d bytes in chunks of %d", len(stream), chunk)
			assert.Equal(t, ref.complete, s.Complete())
		}
	}
}
