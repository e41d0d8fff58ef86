package signals

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// awsMessage encodes one AWS event-stream message with one string header.
func awsMessage(name, value string, payload []byte) []byte {
	var h bytes.Buffer
	h.WriteByte(byte(len(name)))
	h.WriteString(name)
	h.WriteByte(7)
	_ = binary.Write(&h, binary.BigEndian, uint16(len(value)))
	h.WriteString(value)
	var m bytes.Buffer
	_ = binary.Write(&m, binary.BigEndian, uint32(16+h.Len()+len(payload)))
	_ = binary.Write(&m, binary.BigEndian, uint32(h.Len()))
	_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
	m.Write(h.Bytes())
	m.Write(payload)
	_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
	return m.Bytes()
}

// awsChunk is Amazon Bedrock's chunk of one event of the model's stream.
func awsChunk(event string) []byte {
	return awsMessage(":event-type", "chunk",
		[]byte(`{"bytes":"`+base64.StdEncoding.EncodeToString([]byte(event))+`"}`))
}

// bedrockEvents is a whole Anthropic stream as Amazon Bedrock sends it.
var bedrockEvents = bytes.Join([][]byte{
	awsChunk(`{"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}`),
	awsChunk(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`),
	awsChunk(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}`),
	awsChunk(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":25,"outputTokenCount":9}}`),
}, nil)

func TestEventStreamUsageReadsAnthropicEventsInBedrockChunks(t *testing.T) {
	var s EventStreamUsage
	_, _ = s.Write(bedrockEvents)
	u := s.Usage()
	if !u.Known || u.InputTokens != 25 || u.OutputTokens != 9 || !s.Complete() {
		t.Fatalf("got %+v, complete %v; want 25 in, 9 out, complete", u, s.Complete())
	}
}

// A message too long to keep is skipped, and those after it still read;
// a prelude whose CRC is wrong stops the reading, keeping what came before.
func TestEventStreamUsageSkipsLongMessagesAndStopsAtBrokenFraming(t *testing.T) {
	long := awsChunk(`{"type":"content_block_delta","delta":{"text":"` + string(bytes.Repeat([]byte("a"), maxEventMessage)) + `"}}`)
	var s EventStreamUsage
	_, _ = s.Write(append(append([]byte{}, long...), bedrockEvents...))
	if u := s.Usage(); u.InputTokens != 25 || u.OutputTokens != 9 || !s.Complete() {
		t.Fatalf("after a long message: got %+v, complete %v", u, s.Complete())
	}

	broken := append([]byte{}, bedrockEvents...)
	first := int(binary.BigEndian.Uint32(broken))
	broken[first+8] ^= 0xff // the second message's prelude CRC
	s = EventStreamUsage{}
	_, _ = s.Write(broken)
	if u := s.Usage(); u.InputTokens != 25 || u.OutputTokens != 1 || s.Complete() {
		t.Fatalf("after broken framing: got %+v, complete %v; want the first message's usage alone", u, s.Complete())
	}
}

// However the stream is cut into writes, the usage is the same, and no
// input makes the reader panic.
func FuzzEventStreamUsage(f *testing.F) {
	f.Add(bedrockEvents, uint16(1))
	f.Add(bedrockEvents, uint16(13))
	f.Add(bedrockEvents[:40], uint16(7))
	f.Add([]byte{0, 0, 0, 0}, uint16(2))
	f.Fuzz(func(t *testing.T, stream []byte, step uint16) {
		var whole, split EventStreamUsage
		_, _ = whole.Write(stream)
		n := max(int(step), 1)
		for i := 0; i < len(stream); i += n {
			_, _ = split.Write(stream[i:min(i+n, len(stream))])
		}
		if whole.Usage() != split.Usage() || whole.Complete() != split.Complete() {
			t.Fatalf("whole %+v %v, split by %d %+v %v", whole.Usage(), whole.Complete(), n, split.Usage(), split.Complete())
		}
	})
}
