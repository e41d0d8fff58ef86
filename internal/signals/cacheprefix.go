package signals

import (
	"bytes"
	"hash/maphash"
	"time"
)

// Anthropic caches a request's prompt up to each cache_control
// breakpoint it marks: the tools, then the system prompt, then the
// messages, up to and including the block that carries the breakpoint.
// A later request reads the cache when its prompt, up to one of its own
// breakpoints or to one of the cacheLookback blocks before it, is a
// prefix cached (so a conversation that moves its breakpoint to its last
// message reads what the turn before cached). Tokens read from the cache
// do not count against Anthropic's input-tokens-per-minute limit, so a
// request whose long prefix is cached costs that limit little of what
// its text would; one that writes the cache costs it all.

// CachePrefix is the prompt up to the end of one block of a request.
type CachePrefix struct {
	// Hash identifies the prefix within this process: its model and the
	// JSON of the tools, system blocks and messages' roles and blocks that
	// make it up, their cache_control left out.
	Hash uint64
	// Tokens is the prefix's share of Request.EstimateInputTokens.
	Tokens int64
	// Breakpoint says the block carries a cache_control breakpoint: the
	// cache holds the prefix once a request has written it.
	Breakpoint bool
	// TTL is how long the cache keeps a breakpoint's prefix after its
	// last use: five minutes, or an hour when its "ttl" is "1h".
	TTL time.Duration
}

// cacheLookback is how many blocks before a breakpoint Anthropic looks for
// a prefix it has cached.
const cacheLookback = 20

const (
	cacheTTL     = 5 * time.Minute
	cacheLongTTL = time.Hour
)

// CachePrefixes returns the prefixes of the Anthropic Messages request
// body that its cache may hold or come to hold: each one its
// cache_control breakpoints mark, and each that ends within the
// cacheLookback blocks before one, shortest first; none for a body that
// has no breakpoint, or is not a JSON object.
func CachePrefixes(body []byte) []CachePrefix {
	if !bytes.Contains(body, []byte("cache")) {
		return nil // no breakpoint, unless "cache" is escaped in its key
	}
	obj, ok := validValue(body)
	if !ok || !isObject(obj) {
		return nil
	}
	var model, tools, system, messages []byte
	members(obj, func(k, v []byte) {
		switch string(keyName(k)) {
		case "model":
			model = v
		case "tools":
			tools = v
		case "system":
			system = v
		case "messages":
			messages = v
		}
	})
	w := prefixWalk{tally: imageTally{model: stringValue(model)}}
	w.h.SetSeed(prefixSeed)
	w.hash(model)
	w.section('t')
	if isArray(tools) {
		elements(tools, func(e []byte) { w.block(e, jsonLen(e, 1)) })
	}
	w.section('s')
	switch {
	case isString(system):
		w.hash(system)
		w.chars = satAdd(w.chars, decodedLen(system))
	case isArray(system):
		elements(system, func(e []byte) { w.block(e, textLen(e, 1, &w.tally)) })
	}
	w.section('m')
	if isArray(messages) {
		elements(messages, func(m []byte) {
			if !isObject(m) {
				return
			}
			w.messages++
			var role, content []byte
			members(m, func(k, v []byte) {
				switch string(keyName(k)) {
				case "role":
					role = v
				case "content":
					content = v
				}
			})
			w.section('r')
			w.hash(role)
			switch {
			case isString(content):
				w.hash(content)
				w.chars = satAdd(w.chars, decodedLen(content))
			case isArray(content):
				elements(content, func(e []byte) { w.block(e, textLen(e, 3, &w.tally)) })
			}
		})
	}
	return w.prefixes()
}

// prefixSeed seeds the hashes of prefixes: they name prefixes within
// this process only.
var prefixSeed = maphash.MakeSeed()

// prefixWalk walks a request's prompt in the order its cache reads it.
type prefixWalk struct {
	h        maphash.Hash // of what has been walked
	chars    int64        // its text, as Request.PromptChars counts it
	messages int64        // its messages begun
	tally    imageTally
	// blocks are the prefixes that end at each block walked.
	blocks []CachePrefix
}

// block walks one tool or content block, of chars characters of text.
func (w *prefixWalk) block(b []byte, chars int64) {
	w.section('b')
	var cc []byte
	if isObject(b) {
		members(b, func(k, v []byte) {
			if keyIs(k, "cache_control") {
				cc = v
				return
			}
			w.hash(k)
			w.hash(v)
		})
	} else {
		w.hash(b)
	}
	w.chars = satAdd(w.chars, chars)
	p := CachePrefix{Hash: w.h.Sum64(), Tokens: satAdd(w.chars/4, satMul(w.messages, PerMessageTokens))}
	for _, n := range [...]int64{w.tally.tokens, w.tally.docTokens, w.tally.mediaTokens} {
		p.Tokens = satAdd(p.Tokens, n)
	}
	if isObject(cc) {
		p.Breakpoint, p.TTL = true, cacheTTL
		if v := member(cc, "ttl"); isString(v) && keyIs(v, "1h") {
			p.TTL = cacheLongTTL
		}
	}
	w.blocks = append(w.blocks, p)
}

// prefixes returns the breakpoints' prefixes, and those of the
// cacheLookback blocks before each.
func (w *prefixWalk) prefixes() []CachePrefix {
	var out []CachePrefix
	next := 0 // the first block not yet in out
	for i, p := range w.blocks {
		if p.Breakpoint {
			out = append(out, w.blocks[max(i-cacheLookback, next):i+1]...)
			next = i + 1
		}
	}
	return out
}

// section marks where a part of the prompt begins, so that moving a
// block from one part to another changes the hash.
func (w *prefixWalk) section(c byte) { w.hash([]byte{c}) }

// hash adds b to the hash.
func (w *prefixWalk) hash(b []byte) { _, _ = w.h.Write(b) }

// isArray reports whether a valid JSON value is an array.
func isArray(v []byte) bool { return len(v) > 0 && v[0] == '[' }
