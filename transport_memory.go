package ratellmiter

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sync"
)

// What a transport learns from answers (what files given by reference
// cost, which prompt prefixes a cache holds, how much a model writes,
// what a response holds) is kept in a boundedMap each, so that a long-running program that sends
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

// learnedMap is a boundedMap, safe for concurrent use, of what a
// transport learned about the things a limiter's requests name, keyed by
// learnedKey.
type learnedMap[V any] struct {
	mu sync.Mutex
	m  boundedMap[string, V]
}

// maxKeyName is the longest name a learned key holds as it is; a longer
// one (a model, a file or a response id is far shorter) is held as its
// SHA-256, so that what a transport keeps stays bounded whatever the
// requests name.
const maxKeyName = 256

// learnedKey is the key of name as the limiter l's requests give it.
func learnedKey(l *BucketRateLimiter, name string) string {
	if len(name) > maxKeyName {
		sum := sha256.Sum256([]byte(name))
		name = "\x00sha256:" + hex.EncodeToString(sum[:])
	}
	return l.Name() + "\x00" + name
}

// get returns what was learned of key.
func (c *learnedMap[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m.get(key)
}

// set sets key to v, keeping at most limit keys.
func (c *learnedMap[V]) set(key string, v V, limit int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m.set(key, v, limit)
}

// update sets key to what f makes of what was learned of it (ok says
// whether anything was), keeping at most limit keys.
func (c *learnedMap[V]) update(key string, limit int, f func(v V, ok bool) V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m.get(key)
	c.m.set(key, f(v, ok), limit)
}
