package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// fakeBedrock is an in-process Amazon Bedrock runtime endpoint over TLS:
// it answers InvokeModel (POST /model/{modelId}/invoke) and
// InvokeModelWithResponseStream (.../invoke-with-response-stream) for any
// model with an Anthropic Messages answer, the stream as an AWS event
// stream whose chunks carry each event in base64, as Bedrock does. It
// limits requests per minute as a token bucket and refuses a request over
// the limit as Bedrock does: 429 with x-amzn-ErrorType ThrottlingException
// and a body {"message": ...}, and no Retry-After. It checks that each
// request is signed with SigV4 (or carries a Bedrock API key, which the
// SDK sends when AWS_BEARER_TOKEN_BEDROCK is set), names no model in its
// body and gives an anthropic_version.
type fakeBedrock struct {
	rpm   float64 // requests refilled per minute
	burst float64 // requests the bucket holds
	now   func() time.Time

	mu       sync.Mutex
	level    float64 // requests in the bucket at last
	last     time.Time
	stats    fakeStats
	models   map[string]int // requests accepted per model
	notReady int            // requests still to refuse with ModelNotReadyException
	srv      *httptest.Server
}

// fakeStats counts what the fake endpoint saw.
type fakeStats struct {
	Requests    int // invoke and invoke-with-response-stream requests
	Accepted    int
	Rejected429 int // ThrottlingException and ModelNotReadyException
	Streams     int // accepted invoke-with-response-stream requests
}

// Usage of every answer: the fake reports these counts.
const answerIn, answerOut = 14, 9

// reply is the text of every answer; a stream sends it in these parts.
var reply = []string{"Hello", " from", " Bedrock."}

// newFakeBedrock returns an endpoint that admits rpm requests per minute,
// burst at once, timed by now (time.Now when nil).
func newFakeBedrock(rpm, burst int, now func() time.Time) *fakeBedrock {
	if now == nil {
		now = time.Now
	}
	return &fakeBedrock{rpm: float64(rpm), burst: float64(burst), level: float64(burst), now: now, models: map[string]int{}}
}

// start serves f over TLS (HTTP/2) on a free port of 127.0.0.1 and
// returns its base URL; f.srv.Client() trusts it.
func (f *fakeBedrock) start() string {
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
	return f.srv.URL
}

// close stops the server start started.
func (f *fakeBedrock) close() {
	if f.srv != nil {
		f.srv.Close()
	}
}

// Stats returns what the endpoint saw so far.
func (f *fakeBedrock) Stats() fakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Accepted returns the requests accepted for model.
func (f *fakeBedrock) Accepted(model string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.models[model]
}

// NotReady makes the next n requests fail with 429 ModelNotReadyException.
func (f *fakeBedrock) NotReady(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notReady = n
}

// bedrockError writes an error as Bedrock's runtime API does.
func bedrockError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

func (f *fakeBedrock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	w.Header().Set("X-Amzn-Requestid", "f00dcafe-0000-4000-8000-000000000000")
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/")
	k := strings.LastIndexByte(rest, '/')
	if !ok || r.Method != http.MethodPost || k < 0 {
		bedrockError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation")
		return
	}
	model, err := url.PathUnescape(rest[:k])
	method := rest[k+1:]
	if err != nil || (method != "invoke" && method != "invoke-with-response-stream") {
		bedrockError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation")
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=") && !strings.HasPrefix(auth, "Bearer ") {
		bedrockError(w, http.StatusForbidden, "AccessDeniedException", "the request is neither signed nor carries an API key")
		return
	}
	var req struct {
		Model            *string `json:"model"`
		AnthropicVersion string  `json:"anthropic_version"`
		MaxTokens        int     `json:"max_tokens"`
	}
	if json.Unmarshal(body, &req) != nil || req.Model != nil || req.AnthropicVersion == "" || req.MaxTokens <= 0 {
		bedrockError(w, http.StatusBadRequest, "ValidationException", "malformed input request")
		return
	}

	f.mu.Lock()
	f.stats.Requests++
	now := f.now()
	if !f.last.IsZero() {
		f.level = math.Min(f.burst, f.level+now.Sub(f.last).Minutes()*f.rpm)
	}
	f.last = now
	switch {
	case f.notReady > 0:
		f.notReady--
		f.stats.Rejected429++
		f.mu.Unlock()
		bedrockError(w, http.StatusTooManyRequests, "ModelNotReadyException", "Model is not ready to serve inference requests.")
		return
	case f.level < 1:
		f.stats.Rejected429++
		f.mu.Unlock()
		bedrockError(w, http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again.")
		return
	}
	f.level--
	f.stats.Accepted++
	f.models[model]++
	stream := method == "invoke-with-response-stream"
	if stream {
		f.stats.Streams++
	}
	f.mu.Unlock()

	if !stream {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", fmt.Sprint(answerIn))
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", fmt.Sprint(answerOut))
		_, _ = fmt.Fprintf(w, `{"id":"msg_bdrk_01","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":%q}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":%d}}`,
			strings.Join(reply, ""), answerIn, answerOut)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
	enc := eventstream.NewEncoder()
	send := func(event string) {
		payload, _ := json.Marshal(map[string]string{
			"bytes": base64.StdEncoding.EncodeToString([]byte(event)),
			"p":     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123",
		})
		var buf bytes.Buffer
		_ = enc.Encode(&buf, eventstream.Message{
			Headers: eventstream.Headers{
				{Name: ":event-type", Value: eventstream.StringValue("chunk")},
				{Name: ":content-type", Value: eventstream.StringValue("application/json")},
				{Name: ":message-type", Value: eventstream.StringValue("event")},
			},
			Payload: payload,
		})
		_, _ = w.Write(buf.Bytes())
		w.(http.Flusher).Flush()
	}
	send(fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_bdrk_01","type":"message","role":"assistant","model":"claude","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":1}}}`, answerIn))
	send(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	for _, part := range reply {
		send(fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":%q}}`, part))
	}
	send(`{"type":"content_block_stop","index":0}`)
	send(fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":%d}}`, answerOut))
	send(fmt.Sprintf(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":%d,"outputTokenCount":%d,"invocationLatency":120,"firstByteLatency":40}}`, answerIn, answerOut))
}
