package ratellmiter

import (
	"net/http"
	"strings"
)

// The Responses API keeps a conversation on the server: a request that
// names a previous_response_id has the input and output of that response
// (and of those before it) added to its own input, which its body does
// not show, and so does one that names a conversation (the Conversations
// API) with the items of that conversation. The transport learns what
// each response it created holds, the input and output tokens its usage
// reported, under the id its answer or stream named and under the id of
// the conversation it was part of, and charges a request that continues
// either that much more input, as a bound (the server may truncate the
// conversation). A response or conversation the transport did not see
// (made by another process, or before it started) adds nothing.

// maxContexts is the number of responses and conversations whose tokens
// a transport keeps (in Transport.contexts, by limiter and id; see
// learnedKey).
const maxContexts = 4096

// createsResponse reports whether req creates a response of the
// Responses API (POST .../responses).
func createsResponse(req *http.Request) bool {
	return req.Method == http.MethodPost && req.URL != nil &&
		strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/responses")
}
