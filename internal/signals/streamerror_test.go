package signals

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The error event that ends a stream is found however the stream is split
// across writes, and whatever its lines end with; the text "event: error"
// inside an event's data starts no line, and names no event.
func TestStreamErrorFindsTheErrorEventWhenTheStreamIsSplitAnywhere(t *testing.T) {
	const start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n"
	const inText = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"a line\\nevent: error\\ndata: {\\\"error\\\":{\\\"type\\\":\\\"overloaded_error\\\"}}\"}}\n\n"
	for _, tc := range []struct {
		name   string
		stream string
		want   Kind
	}{
		{"overloaded", start + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n", KindOverloaded},
		{"rate limited, CRLF", start + "event: error\r\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\"}}\r\n\r\n", KindRateLimited},
		{"rate limited, CR", "event: error\rdata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\"}}\r\r", KindRateLimited},
		{"data on two lines, unended", start + "event: error\ndata: {\"type\":\"error\",\ndata: \"error\":{\"type\":\"overloaded_error\"}}", KindOverloaded},
		{"responses error", "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"x\"}\n\n", KindRateLimited},
		{"responses failed", "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\",\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"x\"}}}\n\n", KindRateLimited},
		{"api error", start + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}\n\n", KindUnknown},
		{"in an event's text", start + inText + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", KindUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var whole StreamError
			_, _ = whole.Write([]byte(tc.stream))
			assert.Equal(t, tc.want, whole.Kind(), "whole")
			var bytewise StreamError
			for i := range len(tc.stream) {
				_, _ = bytewise.Write([]byte(tc.stream[i : i+1]))
			}
			assert.Equal(t, tc.want, bytewise.Kind(), "a byte at a time")
			for i := range len(tc.stream) {
				var s StreamError
				_, _ = s.Write([]byte(tc.stream[:i]))
				_, _ = s.Write([]byte(tc.stream[i:]))
				if !assert.Equal(t, tc.want, s.Kind(), "split at %d", i) {
					return
				}
			}
		})
	}
}

// An exception message of Amazon Bedrock's event stream is found in its
// headers, however the stream is split; its payload is not read.
func TestEventStreamErrorReadsTheExceptionTypeWhenTheStreamIsSplitAnywhere(t *testing.T) {
	chunk := awsMessage(":event-type", "chunk", []byte(`{"bytes":"`+base64.StdEncoding.EncodeToString([]byte(`{"type":"message_start"}`))+`"}`))
	exception := func(typ string) []byte {
		return awsHeadersMessage([][2]string{
			{":exception-type", typ}, {":content-type", "application/json"}, {":message-type", "exception"},
		}, []byte(`{"message":"x"}`))
	}
	for _, tc := range []struct {
		typ  string
		want Kind
	}{
		{"throttlingException", KindRateLimited},
		{"serviceUnavailableException", KindOverloaded},
		{"modelNotReadyException", KindOverloaded},
		{"modelStreamErrorException", KindUnknown},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			stream := append(append([]byte{}, chunk...), exception(tc.typ)...)
			for i := range len(stream) {
				var s EventStreamError
				_, _ = s.Write(stream[:i])
				_, _ = s.Write(stream[i:])
				if !assert.Equal(t, tc.want, s.Kind(), "split at %d", i) {
					return
				}
			}
		})
	}
}

// awsHeadersMessage encodes one AWS event-stream message with string
// headers.
func awsHeadersMessage(headers [][2]string, payload []byte) []byte {
	var h bytes.Buffer
	for _, kv := range headers {
		h.WriteByte(byte(len(kv[0])))
		h.WriteString(kv[0])
		h.WriteByte(7)
		_ = binary.Write(&h, binary.BigEndian, uint16(len(kv[1])))
		h.WriteString(kv[1])
	}
	var m bytes.Buffer
	_ = binary.Write(&m, binary.BigEndian, uint32(16+h.Len()+len(payload)))
	_ = binary.Write(&m, binary.BigEndian, uint32(h.Len()))
	_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
	m.Write(h.Bytes())
	m.Write(payload)
	_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
	return m.Bytes()
}

// FuzzStreamError checks that the readers of a stream's error event never
// panic, and find the same in a stream however it is split in two.
func FuzzStreamError(f *testing.F) {
	f.Add([]byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\n\n"), 7)
	f.Add([]byte("event: response.failed\r\ndata: {\"response\":{\"error\":{\"code\":\"rate_limit_exceeded\"}}}\r\n\r\n"), 3)
	f.Add(awsHeadersMessage([][2]string{{":message-type", "exception"}, {":exception-type", "throttlingException"}}, []byte("{}")), 20)
	f.Fuzz(func(t *testing.T, stream []byte, at int) {
		at = min(max(at, 0), len(stream))
		var whole, split StreamError
		_, _ = whole.Write(stream)
		_, _ = split.Write(stream[:at])
		_, _ = split.Write(stream[at:])
		if whole.Kind() != split.Kind() {
			t.Fatalf("server-sent events: %v whole, %v split at %d", whole.Kind(), split.Kind(), at)
		}
		var events, splitEvents EventStreamError
		_, _ = events.Write(stream)
		_, _ = splitEvents.Write(stream[:at])
		_, _ = splitEvents.Write(stream[at:])
		if events.Kind() != splitEvents.Kind() {
			t.Fatalf("event stream: %v whole, %v split at %d", events.Kind(), splitEvents.Kind(), at)
		}
	})
}
