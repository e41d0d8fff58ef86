package signals

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A line that ends with a lone "\r" leaves no mark on the lines after
// it: a "\n" that ends a later line, in a later write, still ends that
// line. It was taken for the second half of the "\r\n" of the line
// before, so the two lines ran together and the usage after them was
// lost.
func TestALoneCRDoesNotSwallowALaterLinesLFInALaterWrite(t *testing.T) {
	writes := []string{
		`data: {"usage":{"prompt_tokens":1}}` + "\r",
		`data: {"usage":{"prompt_tokens":2}}`,
		"\n",
		`data: {"usage":{"completion_tokens":3}}` + "\n\n",
	}
	var whole []byte
	var s StreamUsage
	for _, w := range writes {
		whole = append(whole, w...)
		_, _ = s.Write([]byte(w))
	}
	want := Usage{InputTokens: 2, OutputTokens: 3, Known: true}
	assert.Equal(t, want, ParseStreamUsage(whole), "written whole")
	assert.Equal(t, want, s.Usage(), "written in %d pieces", len(writes))

	// Every byte written on its own reads the same.
	var bytewise StreamUsage
	for i := range whole {
		_, _ = bytewise.Write(whole[i : i+1])
	}
	assert.Equal(t, want, bytewise.Usage(), "written a byte at a time")
}
