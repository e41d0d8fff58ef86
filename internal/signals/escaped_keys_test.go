package signals

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// allocatedBytes returns the fewest bytes f allocated over three calls.
func allocatedBytes(f func()) uint64 {
	least := ^uint64(0)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// escapedKeys returns n members whose keys are written with escapes, as
// encoders that escape all non-ASCII text (Python's json.dumps) write
// them, and whose values are 1.
func escapedKeys(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"\u00e9\u00e8%d":1`, i)
	}
	return b.String()
}

// The keys of an object are decoded once each, not once for each other
// key they are told apart from: a request whose tool definitions have
// escaped keys, or one long escaped key, costs no more than twice as
// much to read as decoding it (it cost 13 to 25 times as much).
func TestRequestEscapedKeysAreDecodedOnce(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{"tools":[`)
	for i := range 1000 {
		if i > 0 {
			many.WriteByte(',')
		}
		many.WriteString(`{` + escapedKeys(32) + `}`)
	}
	many.WriteString(`]}`)
	long := `{"tools":{"` + strings.Repeat(`\u00e9`, 1<<16) + `":1,` + escapedKeys(31) + `}}`
	for name, body := range map[string][]byte{
		"many objects of 32 escaped keys": []byte(many.String()),
		"one long escaped key among 32":   []byte(long),
	} {
		var got Request
		scanning := allocatedBytes(func() { got = ParseRequest(body) })
		decoding := allocatedBytes(func() { _ = decodedParseRequest(body) })
		assert.Equal(t, decodedParseRequest(body), got, name)
		assert.LessOrEqual(t, scanning, 2*decoding, "%s: bytes allocated to read a request of %d bytes, against decoding it", name, len(body))
	}
}

// The keys of a usage object are decoded once each, not once for each
// figure's name they are compared with: reading a usage object with
// escaped keys costs no more than twice as much as decoding it.
func TestUsageEscapedKeysAreDecodedOnce(t *testing.T) {
	body := []byte(`{"usage":{"prompt_tokens":3,` + escapedKeys(1000) + `,"` + strings.Repeat(`\u00e9`, 1<<16) + `":1}}`)
	var got Usage
	scanning := allocatedBytes(func() { got = ParseUsage(body) })
	decoding := allocatedBytes(func() { _ = decodedParseUsage(body) })
	assert.Equal(t, Usage{InputTokens: 3, Known: true}, got)
	assert.LessOrEqual(t, scanning, 2*decoding, "bytes allocated to read a usage of %d bytes, against decoding it", len(body))
}
