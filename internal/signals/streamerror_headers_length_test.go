package signals

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A message whose prelude, its CRC right, claims headers of 2^31 bytes or
// more ends the reading of a stream's exception as a broken frame,
// whatever the size of an int, rather than panicking: on 32 bits the
// length turned negative.
func TestEventStreamErrorStopsAtAMessageWhoseHeadersLengthOverrunsIt(t *testing.T) {
	for _, headers := range []uint32{21, 1 << 31, 1<<32 - 1} {
		var m bytes.Buffer
		_ = binary.Write(&m, binary.BigEndian, uint32(20))
		_ = binary.Write(&m, binary.BigEndian, headers)
		_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
		m.WriteString("{}{}")
		_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
		throttled := awsHeadersMessage([][2]string{{":exception-type", "throttlingException"}, {":message-type", "exception"}}, []byte(`{}`))
		var s EventStreamError
		assert.NotPanics(t, func() { _, _ = s.Write(append(m.Bytes(), throttled...)) }, "headers length %d", headers)
		assert.Equal(t, KindUnknown, s.Kind(), "headers length %d: nothing after a broken frame is read", headers)
	}
}
