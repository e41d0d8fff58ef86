package signals

import (
	"bytes"
	"encoding/json"
	"strings"
)

// maxErrorEvent bounds the data of an error event StreamError keeps to
// read; a longer one is not classified.
const maxErrorEvent = 64 << 10

// maxEventName bounds the "event:" line StreamError keeps to read the
// event's name.
const maxEventName = 64

// eventPrefix starts the line that names a server-sent event;
// lfEventPrefix is that line after the end of the line before.
var (
	eventPrefix   = []byte("event:")
	lfEventPrefix = []byte("\nevent:")
)

// StreamError finds, in a server-sent event stream passing by, the error
// event a stream that had already answered 200 may end with: Anthropic's
// "event: error", whose data is an error object (overloaded_error,
// rate_limit_error, api_error), and the Responses API's "event: error",
// whose data names its code, or "event: response.failed", whose
// response's error does. Kind says what that error is (see
// ParseErrorBody): KindRateLimited, KindOverloaded, or KindUnknown for
// any other error, or none.
//
// Only lines that start with "event:" are looked at, found with
// bytes.Index, and the lines of an error event: the rest of the stream
// is passed over, as fast as the stream's "\n"s are found. Lines may be split across Write calls arbitrarily, and
// end with "\n", "\r\n" or "\r". Memory is bounded by maxErrorEvent. The
// zero value is ready to use. A StreamError is not safe for concurrent
// use.
type StreamError struct {
	state uint8 // scanning, reading an event's name, or an error event
	mid   bool  // the last byte written ended no line
	cr    bool  // the last line ended with "\r": a "\n" next ends no line
	// name is the start of the "event:" line being read, up to
	// maxEventName bytes; line is the current line of an error event.
	name  [maxEventName]byte
	names int
	line  []byte
	data  []byte // the error event's data, its lines joined by newlines
	lines int
	over  bool // the data grew past maxErrorEvent
	kind  Kind
}

const (
	scanning = iota
	readingName
	readingError
)

// Write consumes part of the stream. It never fails.
func (s *StreamError) Write(p []byte) (int, error) {
	n := len(p)
	// Lines end with "\n" alone, as the providers end them, unless a
	// "\r" comes: a line starts after a "\n", found with bytes.IndexByte.
	lf := bytes.IndexByte(p, '\r') < 0
	for len(p) > 0 && s.kind == KindUnknown {
		switch s.state {
		case scanning:
			var i int
			switch {
			case lf && !s.mid && bytes.HasPrefix(p, eventPrefix):
				i = 0
			case lf:
				if i = bytes.Index(p, lfEventPrefix) + 1; i == 0 {
					s.carry(p)
					return n, nil
				}
			default:
				if i = bytes.Index(p, eventPrefix); i < 0 {
					s.carry(p)
					return n, nil
				}
				if i == 0 && s.mid || i > 0 && !lineEnd(p[i-1]) {
					s.mid, p = true, p[i+1:] // "event:" inside a line
					continue
				}
			}
			s.state, s.names, p = readingName, 0, p[i:]
		case readingName:
			i := bytes.IndexByte(p, '\n')
			if !lf {
				i = bytes.IndexAny(p, "\r\n")
			}
			if i < 0 {
				s.names += copy(s.name[s.names:], p)
				return n, nil
			}
			s.names += copy(s.name[s.names:], p[:i])
			s.cr, s.mid, p = p[i] == '\r', false, p[i+1:]
			name, ok := bytes.CutPrefix(s.name[:s.names], eventPrefix)
			s.state = scanning
			if ok && s.names < maxEventName && isErrorEvent(string(bytes.TrimSpace(name))) {
				s.state, s.line, s.data, s.lines, s.over = readingError, s.line[:0], s.data[:0], 0, false
			}
		case readingError:
			if s.cr {
				s.cr = false
				if p[0] == '\n' {
					p = p[1:]
					continue
				}
			}
			i := bytes.IndexAny(p, "\r\n")
			if i < 0 {
				s.keep(p)
				return n, nil
			}
			s.keep(p[:i])
			s.cr, p = p[i] == '\r', p[i+1:]
			if len(s.line) == 0 {
				s.kind = s.pending()
				s.state = scanning
			} else {
				s.addData()
			}
			s.line = s.line[:0]
		}
	}
	return n, nil
}

// Kind returns what the stream's error event says, counting an error
// event whose last line has not been ended yet: the stream may stop
// right after it.
func (s *StreamError) Kind() Kind {
	if s.kind != KindUnknown || s.state != readingError {
		return s.kind
	}
	data, lines, over := s.data, s.lines, s.over
	if len(s.line) > 0 {
		s.addData()
	}
	k := s.pending()
	s.data, s.lines, s.over = data, lines, over
	return k
}

// pending classifies the data of the error event read so far.
func (s *StreamError) pending() Kind {
	if s.over || s.lines == 0 {
		return KindUnknown
	}
	return streamErrorKind(s.data)
}

// addData adds the current line, if it is a "data:" line, to the error
// event's data.
func (s *StreamError) addData() {
	d, ok := dataValue(s.line)
	if !ok {
		return
	}
	s.data, s.over = joinData(s.data, s.lines, d, s.over)
	if s.over || len(s.data) > maxErrorEvent {
		s.data, s.over = nil, true
	}
	s.lines++
}

// carry notes the end of a write in which no "event:" starts a line: a
// start of one at its end is kept to be read on.
func (s *StreamError) carry(p []byte) {
	for j := max(len(p)-len(eventPrefix)+1, 0); j < len(p); j++ {
		if (j == 0 && !s.mid || j > 0 && lineEnd(p[j-1])) && bytes.HasPrefix(eventPrefix, p[j:]) {
			s.state, s.names = readingName, copy(s.name[:], p[j:])
			return
		}
	}
	s.mid = !lineEnd(p[len(p)-1])
}

// keep appends p to the current line of an error event, up to
// maxErrorEvent bytes; a longer line marks its data too long.
func (s *StreamError) keep(p []byte) {
	if len(s.line)+len(p) > maxErrorEvent {
		p = p[:max(maxErrorEvent-len(s.line), 0)]
		s.over = true
	}
	s.line = append(s.line, p...)
}

func lineEnd(c byte) bool { return c == '\n' || c == '\r' }

// isErrorEvent reports whether name is that of an event a stream fails
// with.
func isErrorEvent(name string) bool { return name == "error" || name == "response.failed" }

// streamErrorKind classifies the data of an error event: an error object
// ({"error":{...}}, Anthropic's), a Responses API error event, whose
// code is at its top, or a response.failed event, whose response holds
// the error.
func streamErrorKind(data []byte) Kind {
	var info ErrorInfo
	if e, ok := decodeProviderError(data); ok {
		classifyBody(&info, e)
		return info.Kind
	}
	var ev struct {
		providerError
		Response struct {
			Error providerError `json:"error"`
		} `json:"response"`
	}
	if json.Unmarshal(data, &ev) != nil {
		return KindUnknown
	}
	e := ev.providerError
	if len(ev.Response.Error.Code) > 0 {
		e = ev.Response.Error
	}
	e.Type = nil // "error", the event's
	classifyBody(&info, e)
	return info.Kind
}

// maxExceptionHeaders bounds the headers of an event-stream message
// EventStreamError keeps to read.
const maxExceptionHeaders = 4 << 10

// EventStreamError finds, in an AWS event stream passing by (Amazon
// Bedrock's, see EventStreamUsage), the exception message a stream that
// had already answered 200 may end with (":message-type" exception), and
// says in Kind what its ":exception-type" is: KindRateLimited for a
// throttlingException, KindOverloaded for a serviceUnavailableException
// or a modelNotReadyException (see ParseErrorBody), KindUnknown for any
// other (modelStreamErrorException, internalServerException), or none.
// Only the messages' preludes and headers are read; their payloads are
// passed over. A prelude whose CRC does not match ends the reading.
// The zero value is ready to use. An EventStreamError is not safe for
// concurrent use.
type EventStreamError struct {
	head   []byte // the pending message's prelude and headers
	skip   int    // bytes still to pass over of the current message
	broken bool
	kind   Kind
}

// Write consumes part of the stream. It never fails.
func (s *EventStreamError) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !s.broken && s.kind == KindUnknown {
		if s.skip > 0 {
			k := min(s.skip, len(p))
			s.skip -= k
			p = p[k:]
			continue
		}
		if len(s.head) < 12 {
			k := min(12-len(s.head), len(p))
			s.head = append(s.head, p[:k]...)
			p = p[k:]
			if len(s.head) < 12 {
				break
			}
			total, hl, ok := eventPrelude(s.head)
			switch {
			case !ok || hl > int64(total)-16:
				s.broken, s.head = true, nil
				return n, nil
			case hl > maxExceptionHeaders:
				s.skip, s.head = total-12, s.head[:0]
				continue
			}
		}
		total, headers, _ := eventPrelude(s.head)
		hl := int(headers)
		k := min(12+hl-len(s.head), len(p))
		s.head = append(s.head, p[:k]...)
		p = p[k:]
		if len(s.head) == 12+hl {
			if h := s.head[12:]; header(h, ":message-type") == "exception" {
				s.kind = exceptionKind(header(h, ":exception-type"))
			}
			s.skip, s.head = total-12-hl, s.head[:0]
		}
	}
	return n, nil
}

// Kind returns what the stream's exception says.
func (s *EventStreamError) Kind() Kind { return s.kind }

// exceptionKind classifies the exception type of an event stream, named
// as Bedrock's error types are but with a lower-case first letter.
func exceptionKind(typ string) Kind {
	if typ == "" {
		return KindUnknown
	}
	var info ErrorInfo
	classifyAmazon(&info, strings.ToUpper(typ[:1])+typ[1:])
	return info.Kind
}
