package ratellmiter

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// What a transport learns is keyed by the names requests give (a model, a
// file, a response): a name of any length makes a key of bounded length,
// so that each map, bounded in entries, holds a bounded amount whatever the
// requests name, and distinct names keep distinct keys.
func TestALearnedKeyStaysShortForANameOfAnyLength(t *testing.T) {
	l := newLimiter(t, 600, WithName("api"))
	short := "gpt-4o-mini"
	assert.Equal(t, "api\x00"+short, learnedKey(l, short), "a name of usual length is kept as it is")
	a := strings.Repeat("m", 1<<20)
	b := a[:len(a)-1] + "n"
	ka, kb := learnedKey(l, a), learnedKey(l, b)
	assert.LessOrEqual(t, len(ka), 1024, "a key of a 1 MiB name")
	assert.NotEqual(t, ka, kb, "two long names that differ in their last byte")
	assert.Equal(t, ka, learnedKey(l, a), "the same name, the same key")
	assert.NotEqual(t, ka, learnedKey(l, strings.Repeat("m", 256)), "a long name and a short one")
}
