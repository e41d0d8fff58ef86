package signals

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// A message whose prelude claims headers longer than the message, up to
// the largest length its four bytes can say, is skipped as malformed,
// whatever the size of an int: the messages after it are still read. Its
// prelude's CRC is right, so the framing holds.
func TestEventStreamUsageSkipsAMessageWhoseHeadersLengthOverrunsIt(t *testing.T) {
	for _, headers := range []uint32{21, 1 << 31, 1<<32 - 1} {
		var m bytes.Buffer
		_ = binary.Write(&m, binary.BigEndian, uint32(20))
		_ = binary.Write(&m, binary.BigEndian, headers)
		_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
		m.WriteString("{}{}") // 4 bytes, then the message's CRC
		_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
		var s EventStreamUsage
		_, _ = s.Write(append(m.Bytes(), bedrockEvents...))
		if u := s.Usage(); u.InputTokens != 25 || u.OutputTokens != 9 || !s.Complete() {
			t.Errorf("headers length %d: got %+v, complete %v; want the stream after it read", headers, u, s.Complete())
		}
	}
}
