package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// dialect is one provider's wire format: its validation, headers, error
// bodies and replies.
type dialect interface {
	// validate rejects requests the provider would answer with 400.
	validate(req *chatRequest) error
	// overloadable reports whether Server.Overloaded applies.
	overloadable() bool
	// badRequest writes a client error with status.
	badRequest(w http.ResponseWriter, status int, msg string)
	// setHeaders adds the rate-limit and request-id headers.
	setHeaders(h http.Header, snap snapshot, now time.Time, requestID string)
	// refuse answers a refused request, its headers already set, and
	// returns the status it wrote.
	refuse(w http.ResponseWriter, req *chatRequest, dec decision) int
	// answer writes an admitted request's reply, streamed if asked.
	answer(w http.ResponseWriter, req *chatRequest, rep reply)
}

// writeJSON writes v as a JSON response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// setRetryAfter sets Retry-After in whole seconds, rounded up, and, when
// withMillis, retry-after-ms rounded up. A non-positive d sets nothing.
func setRetryAfter(h http.Header, d time.Duration, withMillis bool) {
	if d <= 0 {
		return
	}
	h.Set("Retry-After", strconv.FormatInt(ceilDiv(int64(d), int64(time.Second)), 10))
	if withMillis {
		h.Set("Retry-After-Ms", strconv.FormatInt(ceilDiv(int64(d), int64(time.Millisecond)), 10))
	}
}

// sse writes server-sent events and flushes after each one.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

// startSSE writes the headers of an event stream with status 200.
func startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	s := &sse{w: w, f: f}
	s.flush()
	return s
}

// event writes one event; an empty name writes a data-only event. It
// returns false once the client has gone away.
func (s *sse) event(name string, data any) bool {
	var payload []byte
	switch d := data.(type) {
	case string:
		payload = []byte(d)
	default:
		var err error
		if payload, err = json.Marshal(d); err != nil {
			return false
		}
	}
	var err error
	if name != "" {
		_, err = fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, payload)
	} else {
		_, err = fmt.Fprintf(s.w, "data: %s\n\n", payload)
	}
	s.flush()
	return err == nil
}

// flush sends what was written so far.
func (s *sse) flush() {
	if s.f != nil {
		s.f.Flush()
	}
}
