package signals

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
)

// maxEventMessage bounds the AWS event-stream message EventStreamUsage
// keeps to read; a longer one is skipped without being buffered.
const maxEventMessage = MaxLineBytes

// EventStreamUsage extracts token usage from an AWS event stream
// (application/vnd.amazon.eventstream) as it passes by: Amazon Bedrock's
// InvokeModelWithResponseStream sends one, binary messages each made of a
// prelude (its length, its headers' length and their CRC), headers, a
// payload and a CRC, whose chunks carry a JSON payload {"bytes":"..."}
// holding, in base64, one event of the model's own stream. For Anthropic's
// models that is the Messages stream, whose message_start and
// message_delta events StreamUsage reads, and whose message_stop makes the
// usage final (see Complete). The last chunk of every model's stream
// carries Bedrock's own "amazon-bedrock-invocationMetrics"
// (inputTokenCount, outputTokenCount): the usage of a model whose events
// report none (Meta's Llama, for one), read there, and final. Amazon
// Bedrock's ConverseStream sends the Converse API's events in the
// stream's messages themselves, each named by its :event-type header, the
// last of them a "metadata" event whose
// "usage" (inputTokens, outputTokens, and the prompt cache's
// cacheReadInputTokens and cacheWriteInputTokens) is read, and makes the
// usage final. Other payloads (an exception's) are skipped.
//
// Messages may be split across Write calls arbitrarily. A prelude whose
// CRC does not match ends the reading: what follows cannot be framed, and
// the usage found before it is kept. Memory is bounded by maxEventMessage
// for the pending message. The zero value is ready to use. An
// EventStreamUsage is not safe for concurrent use.
type EventStreamUsage struct {
	msg      []byte // the pending message, up to its whole length
	skip     int    // bytes still to skip of a message too long to keep
	broken   bool   // the framing was lost: nothing more is read
	parts    usageParts
	complete bool
}

// Write consumes part of the stream. It never fails.
func (s *EventStreamUsage) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !s.broken {
		if s.skip > 0 {
			k := min(s.skip, len(p))
			s.skip -= k
			p = p[k:]
			continue
		}
		if len(s.msg) < 12 {
			k := min(12-len(s.msg), len(p))
			s.msg = append(s.msg, p[:k]...)
			p = p[k:]
			if len(s.msg) < 12 {
				break
			}
			total, _, ok := eventPrelude(s.msg)
			switch {
			case !ok:
				s.broken, s.msg = true, nil
				return n, nil
			case total > maxEventMessage:
				s.skip, s.msg = total-12, s.msg[:0]
				continue
			}
		}
		total, _, _ := eventPrelude(s.msg)
		k := min(total-len(s.msg), len(p))
		s.msg = append(s.msg, p[:k]...)
		p = p[k:]
		if len(s.msg) == total {
			s.message(s.msg)
			s.msg = s.msg[:0]
		}
	}
	return n, nil
}

// message reads one whole message: the usage of the model's event its
// chunk carries, or of a ConverseStream metadata event, if any.
func (s *EventStreamUsage) message(m []byte) {
	// The headers' length is compared before it is made an int, which
	// on 32 bits would turn a length of 2^31 or more negative.
	headers := binary.BigEndian.Uint32(m[4:8])
	if int64(headers) > int64(len(m)-16) {
		return
	}
	start := 12 + int(headers)
	if header(m[12:start], ":event-type") == "metadata" {
		if u, ok := scanUsageMembers(m[start:len(m)-4], jsonLevels); ok {
			s.parts.merge(u)
		}
		s.complete = true
		return
	}
	var chunk struct {
		Bytes []byte `json:"bytes"` // base64, which encoding/json decodes
	}
	if json.Unmarshal(m[start:len(m)-4], &chunk) != nil || len(chunk.Bytes) == 0 {
		return
	}
	s.complete = parseData(&s.parts, chunk.Bytes) || s.complete
	if bytes.Contains(chunk.Bytes, []byte("invocationMetrics")) {
		m, ok := scanUsageMembers(chunk.Bytes, jsonLevels)
		if ok && isObject(m.invocationMetrics) {
			if !s.parts.usage().Known {
				s.parts.mergeFigures(m.invocationMetrics)
			}
			s.complete = true
		}
	}
}

// Usage returns the usage seen so far.
func (s *EventStreamUsage) Usage() Usage { return s.parts.usage() }

// Complete reports whether the terminal event of the model's stream
// (Anthropic's message_stop, the chunk carrying Bedrock's invocation
// metrics, or ConverseStream's metadata event) has passed, after which its
// usage is final.
func (s *EventStreamUsage) Complete() bool { return s.complete }

// header returns the value of the string header name among an
// event-stream message's headers, or "" when it has none, or they are
// malformed. Each header is a name (its length in a byte), a type (a
// byte) and a value whose length the type gives, or, for a byte array
// (6) or a string (7), a two-byte length before it.
func header(h []byte, name string) string {
	for len(h) > 0 {
		n := int(h[0])
		if len(h) < 2+n {
			return ""
		}
		key, typ := h[1:1+n], h[1+n]
		h = h[2+n:]
		var size int
		switch typ {
		case 0, 1: // true, false
		case 2:
			size = 1
		case 3:
			size = 2
		case 4:
			size = 4
		case 5, 8: // an int64, a timestamp
			size = 8
		case 9: // a UUID
			size = 16
		case 6, 7:
			if len(h) < 2 {
				return ""
			}
			size, h = int(binary.BigEndian.Uint16(h)), h[2:]
		default:
			return ""
		}
		if len(h) < size {
			return ""
		}
		if string(key) == name && typ == 7 {
			return string(h[:size])
		}
		h = h[size:]
	}
	return ""
}

// eventPrelude reads the prelude of an AWS event-stream message, its
// first 12 bytes: the message's length, and its headers' length as an
// int64, which no size of int makes negative. ok is false when the
// prelude's CRC does not match, or the message's length cannot frame one
// (under 16 bytes, or more than an int holds): the framing of the stream
// is lost.
func eventPrelude(p []byte) (total int, headers int64, ok bool) {
	t := binary.BigEndian.Uint32(p[0:4])
	if crc32.ChecksumIEEE(p[:8]) != binary.BigEndian.Uint32(p[8:12]) || t < 16 || int64(t) > math.MaxInt {
		return 0, 0, false
	}
	return int(t), int64(binary.BigEndian.Uint32(p[4:8])), true
}
