package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// fakeVertex is an in-process Vertex AI endpoint over TLS for Anthropic's
// models: it answers rawPredict, streamRawPredict (as server-sent events,
// Anthropic's own stream) and count-tokens:rawPredict under
// /v1/projects/{project}/locations/{region}/publishers/anthropic/models/.
// It limits requests per minute as a token bucket and refuses a request
// over the limit as Vertex AI does: 429 with a google.rpc.Status body,
// RESOURCE_EXHAUSTED, naming the quota, and no Retry-After. It checks
// that each request carries an OAuth bearer token, names no model in a
// message's body and gives an anthropic_version.
type fakeVertex struct {
	rpm   float64
	burst float64
	now   func() time.Time

	mu     sync.Mutex
	level  float64
	last   time.Time
	stats  fakeStats
	models map[string]int // predictions accepted per model
	srv    *httptest.Server
}

// fakeStats counts what the fake endpoint saw.
type fakeStats struct {
	Requests    int // rawPredict and streamRawPredict requests
	Accepted    int
	Rejected429 int
	Streams     int // accepted streamRawPredict requests
	Counts      int // count-tokens requests
}

// Usage of every answer, and the count of every count-tokens request.
const answerIn, answerOut, counted = 14, 9, 4010

// reply is the text of every answer; a stream sends it in these parts.
var reply = []string{"Hello", " from", " Vertex."}

// quotaExceeded is Vertex AI's refusal of a request over the per-minute
// quota of a base model.
const quotaExceeded = `{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: anthropic-claude-sonnet-4. Please submit a quota increase request. https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.","status":"RESOURCE_EXHAUSTED"}}`

func newFakeVertex(rpm, burst int, now func() time.Time) *fakeVertex {
	if now == nil {
		now = time.Now
	}
	return &fakeVertex{rpm: float64(rpm), burst: float64(burst), level: float64(burst), now: now, models: map[string]int{}}
}

// start serves f over TLS (HTTP/2) on a free port of 127.0.0.1 and
// returns its base URL; f.srv.Client() trusts it.
func (f *fakeVertex) start() string {
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
	return f.srv.URL
}

func (f *fakeVertex) close() {
	if f.srv != nil {
		f.srv.Close()
	}
}

// Stats returns what the endpoint saw so far.
func (f *fakeVertex) Stats() fakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Accepted returns the predictions accepted for model.
func (f *fakeVertex) Accepted(model string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.models[model]
}

// googleError writes a google.rpc.Status error.
func googleError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, code, msg, status)
}

func (f *fakeVertex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	_, rest, ok := strings.Cut(r.URL.Path, "/publishers/anthropic/models/")
	model, method, _ := strings.Cut(rest, ":")
	if !ok || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/v1/projects/") {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "unknown path")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "missing credentials")
		return
	}
	var req struct {
		Model            *string `json:"model"`
		AnthropicVersion string  `json:"anthropic_version"`
	}
	if json.Unmarshal(body, &req) != nil || req.AnthropicVersion == "" {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "malformed request")
		return
	}
	if model == "count-tokens" && method == "rawPredict" {
		f.mu.Lock()
		f.stats.Counts++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"input_tokens":%d}`, counted)
		return
	}
	if req.Model != nil || (method != "rawPredict" && method != "streamRawPredict") {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "malformed request")
		return
	}

	f.mu.Lock()
	f.stats.Requests++
	now := f.now()
	if !f.last.IsZero() {
		f.level = math.Min(f.burst, f.level+now.Sub(f.last).Minutes()*f.rpm)
	}
	f.last = now
	if f.level < 1 {
		f.stats.Rejected429++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, quotaExceeded)
		return
	}
	f.level--
	f.stats.Accepted++
	f.models[model]++
	stream := method == "streamRawPredict"
	if stream {
		f.stats.Streams++
	}
	f.mu.Unlock()

	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":"msg_vrtx_01","type":"message","role":"assistant","model":%q,"content":[{"type":"text","text":%q}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":%d}}`,
			model, strings.Join(reply, ""), answerIn, answerOut)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	send := func(event, data string) {
		_, _ = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
		w.(http.Flusher).Flush()
	}
	send("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_vrtx_01","type":"message","role":"assistant","model":%q,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":1}}}`, model, answerIn))
	send("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	for _, part := range reply {
		send("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%q}}`, part))
	}
	send("content_block_stop", `{"type":"content_block_stop","index":0}`)
	send("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, answerOut))
	send("message_stop", `{"type":"message_stop"}`)
}
