package ratellmiter

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A boundedMap forgets the key set first when full; setting a key again
// keeps its place, and a key deleted leaves room.
func TestBoundedMapForgetsTheKeySetFirst(t *testing.T) {
	var b boundedMap[string, int]
	for i := range 3 {
		b.set(fmt.Sprint(i), i, 3)
	}
	b.set("0", 10, 3)
	b.set("3", 3, 3)
	_, ok := b.get("0")
	assert.False(t, ok, "set first, forgotten first, though set again since")

	b.delete("1")
	b.delete("never set")
	b.set("4", 4, 3)
	for _, k := range []string{"2", "3", "4"} {
		v, ok := b.get(k)
		assert.True(t, ok, "%s kept: the deleted key left room", k)
		assert.Equal(t, k, fmt.Sprint(v))
	}
	assert.Len(t, b.order, 3)
	assert.Len(t, b.m, 3)
}
