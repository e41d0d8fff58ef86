package ratellmiter

import (
	"sync"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// Anthropic's prompt cache and the token budget. The tokens a request
// reads from the cache do not count against Anthropic's input tokens per
// minute, so charging a request whose long system prompt is cached for
// all of its text would keep the budget reserved for tokens the server
// never counts, and hold back the requests behind it while it runs. The
// transport learns from the answers which prompt prefixes the cache holds
// (see signals.CachePrefixes): once an answer reports tokens read from or
// written to the cache, the prefixes the request's breakpoints mark are
// held, for their time to live, as far as the tokens it reported cached.
// A later request through the same limiter whose prompt holds one of
// them, at a breakpoint or in the blocks the cache looks back over, is
// charged its estimate less that prefix; its answer's usage then corrects
// the charge as for any request, and an answer that read and wrote
// nothing from the cache (it was evicted early) forgets the prefixes.
// A prefix estimated under minCacheable tokens is never held: most of
// Anthropic's models cache no shorter prompt (some cache from 512 tokens,
// some only from 2,048 or 4,096; a shorter prefix of theirs is charged in
// full, or held once until an answer says it read nothing).

// maxCachedPrefixes is the number of prompt prefixes a transport keeps.
const maxCachedPrefixes = 4096

// minCacheable is the fewest tokens of a prompt most of Anthropic's
// models cache.
const minCacheable = 1024

// promptCache holds, by limiter and prefix, the prompt prefixes the
// provider's cache holds, as the answers reported them. It is safe for
// concurrent use.
type promptCache struct {
	mu   sync.Mutex
	held boundedMap[cacheKey, cachedPrefix]
}

// cacheKey names a prefix as a limiter's requests send it.
type cacheKey struct {
	limiter string
	hash    uint64
}

// cachedPrefix is a prefix the cache holds: tokens of it, until then
// (on the limiter's time line), ttl after its last use.
type cachedPrefix struct {
	tokens int64
	until  int64
	ttl    time.Duration
}

// discount returns the tokens the cache holds at now (on l's time line)
// of the longest of prefixes, a request's, that it holds: the prefix's
// estimate, at most what the answer that cached it reported; 0 when it
// holds none.
func (c *promptCache) discount(l *BucketRateLimiter, prefixes []signals.CachePrefix, now int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(prefixes) - 1; i >= 0; i-- {
		p := prefixes[i]
		if v, ok := c.held.get(cacheKey{l.Name(), p.Hash}); ok && now < v.until {
			return min(p.Tokens, v.tokens)
		}
	}
	return 0
}

// learn records what the usage u of the answer to a request with
// prefixes says at now: the prefixes its breakpoints mark are held for
// their time to live, as far as the tokens it read from and wrote to the
// cache, and the others the cache holds are held anew; none is held when
// it read and wrote nothing.
func (c *promptCache) learn(l *BucketRateLimiter, prefixes []signals.CachePrefix, u signals.Usage, now int64) {
	cached := u.CacheReadTokens + u.CacheWriteTokens
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range prefixes {
		k := cacheKey{l.Name(), p.Hash}
		v, ok := c.held.get(k)
		switch {
		case cached <= 0:
			c.held.delete(k)
		case p.Breakpoint && p.Tokens >= minCacheable:
			c.held.set(k, cachedPrefix{tokens: cached, until: now + int64(p.TTL), ttl: p.TTL}, maxCachedPrefixes)
		case ok && now < v.until:
			v.until = now + int64(v.ttl) // read again: its time to live starts anew
			c.held.set(k, v, maxCachedPrefixes)
		}
	}
}
