package ratellmiter

import (
	"net/http"
	"strings"
	"sync"
)

// The Responses API keeps a conversation on the server: a request that
// names a previous_response_id has the input and output of that response
// (and of those before it) added to its own input, which its body does
// not show. The transport learns what each response it saw holds, the
// input and output tokens its usage reported under the id its answer or
// stream named, and charges a request that continues it that much more
// input, as a bound (the server may truncate the conversation). A
// response the transport did not see (made by another process, or before
// it started) adds nothing.

// maxContexts is the number of responses whose tokens a transport keeps.
const maxContexts = 4096

// responseContexts holds the tokens of the responses a transport saw, by
// limiter and response id. It is safe for concurrent use.
type responseContexts struct {
	mu     sync.Mutex
	tokens boundedMap[string, int64]
}

// contextKey is the key of the response id as the limiter l's requests
// name it.
func contextKey(l *BucketRateLimiter, id string) string { return l.Name() + "\x00" + id }

// get returns the tokens of the response key, 0 when it was not seen.
func (c *responseContexts) get(key string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, _ := c.tokens.get(key)
	return n
}

// set records that the response key holds n tokens.
func (c *responseContexts) set(key string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens.set(key, n, maxContexts)
}

// createsResponse reports whether req creates a response of the
// Responses API (POST .../responses).
func createsResponse(req *http.Request) bool {
	return req.Method == http.MethodPost && req.URL != nil &&
		strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/responses")
}
