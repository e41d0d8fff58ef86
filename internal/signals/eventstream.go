package signals

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
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
// usage final (see Complete). Other payloads (an exception's) are skipped.
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
			total := int(binary.BigEndian.Uint32(s.msg[0:4]))
			switch {
			case crc32.ChecksumIEEE(s.msg[:8]) != binary.BigEndian.Uint32(s.msg[8:12]) || total < 16:
				s.broken, s.msg = true, nil
				return n, nil
			case total > maxEventMessage:
				s.skip, s.msg = total-12, s.msg[:0]
				continue
			}
		}
		total := int(binary.BigEndian.Uint32(s.msg[0:4]))
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
// chunk carries, if any.
func (s *EventStreamUsage) message(m []byte) {
	start := 12 + int(binary.BigEndian.Uint32(m[4:8]))
	if start > len(m)-4 {
		return
	}
	var chunk struct {
		Bytes []byte `json:"bytes"` // base64, which encoding/json decodes
	}
	if json.Unmarshal(m[start:len(m)-4], &chunk) != nil || len(chunk.Bytes) == 0 {
		return
	}
	s.complete = parseData(&s.parts, chunk.Bytes) || s.complete
}

// Usage returns the usage seen so far.
func (s *EventStreamUsage) Usage() Usage { return s.parts.usage() }

// Complete reports whether the terminal event of the model's stream
// (Anthropic's message_stop) has passed, after which its usage is final.
func (s *EventStreamUsage) Complete() bool { return s.complete }
