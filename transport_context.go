package ratellmiter

import (
	"net/http"
	"strings"
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

// maxContexts is the number of responses whose tokens a transport keeps
// (in Transport.contexts, by limiter and response id; see learnedKey).
const maxContexts = 4096

// createsResponse reports whether req creates a response of the
// Responses API (POST .../responses).
func createsResponse(req *http.Request) bool {
	return req.Method == http.MethodPost && req.URL != nil &&
		strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/responses")
}
