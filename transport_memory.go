package ratellmiter

import "slices"

// What a transport learns from answers (what files given by reference
// cost, which prompt prefixes a cache holds, how much a model writes) is
// kept in a boundedMap each, so that a long-running program that sends
// ever new files and prompts holds a fixed amount of it.

// boundedMap is a map that keeps at most limit keys, forgetting the one
// set first when full. It is not safe for concurrent use: its owner holds
// a lock around it. The zero value is empty.
type boundedMap[K comparable, V any] struct {
	m     map[K]V
	order []K // the keys in the order they were first set
}

// get returns the value of k.
func (b *boundedMap[K, V]) get(k K) (V, bool) {
	v, ok := b.m[k]
	return v, ok
}

// set sets k to v, forgetting the key set first when limit are kept.
func (b *boundedMap[K, V]) set(k K, v V, limit int) {
	if b.m == nil {
		b.m = make(map[K]V)
	}
	if _, ok := b.m[k]; !ok {
		for len(b.order) >= limit {
			delete(b.m, b.order[0])
			b.order = b.order[1:]
		}
		b.order = append(b.order, k)
	}
	b.m[k] = v
}

// delete forgets k.
func (b *boundedMap[K, V]) delete(k K) {
	if _, ok := b.m[k]; !ok {
		return
	}
	delete(b.m, k)
	if i := slices.Index(b.order, k); i >= 0 {
		b.order = slices.Delete(b.order, i, i+1)
	}
}
