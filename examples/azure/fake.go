package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeAzure is an in-process Azure OpenAI endpoint, served over TLS. It
// answers chat completions, streamed or not, on the classic path
// (POST /openai/deployments/{deployment}/chat/completions?api-version=...)
// and on the v1 one (POST /openai/v1/chat/completions, the deployment
// named by the body's model), for the deployments it was given. Like
// Azure it:
//
//   - wants the key in an "api-key" header (401 otherwise), and answers
//     404 DeploymentNotFound for a deployment it does not have;
//   - enforces each deployment's requests per minute over 10-second
//     windows (a sixth of the RPM in each), and its tokens per minute
//     over the minute, charging a request its prompt and its max_tokens
//     when it arrives;
//   - sends x-ratelimit-remaining-requests and x-ratelimit-remaining-tokens
//     with every answer, the x-ratelimit-limit-* ones too when
//     limitHeaders is set, and no reset header;
//   - refuses a request over a limit with 429, Retry-After and
//     retry-after-ms, and the body {"error":{"code":"429","message":"...
//     Please retry after N seconds. ..."}};
//   - refuses a prompt holding blockedWord with 400 content_filter;
//   - reports usage in its answers, and in the last event of a stream
//     whose stream_options.include_usage is set, after a first event that
//     carries only prompt_filter_results.
type fakeAzure struct {
	now          func() time.Time
	limitHeaders bool

	mu    sync.Mutex
	deps  map[string]*deployment
	stats fakeStats
	srv   *httptest.Server
}

// deployment is one model deployment and what it has used.
type deployment struct {
	rpm, tpm int

	window   time.Time // start of the current 10-second window
	requests int       // requests admitted in it
	minute   time.Time // start of the current token minute
	tokens   int       // tokens charged in it
	accepted int
}

// fakeStats counts what the fake endpoint saw.
type fakeStats struct {
	Requests     int // chat completion requests
	Accepted     int
	Rejected429  int
	Filtered400  int // refused by the content filter
	NotFound404  int // for a deployment the endpoint does not have
	Streams      int // accepted streamed requests
	PromptTokens int // of the accepted requests, as the usage says
	OutputTokens int
	MaxInWindow  int // most requests admitted for one deployment in one 10-second window
}

// blockedWord in a prompt makes the content filter refuse it.
const blockedWord = "forbidden"

// apiVersion is the classic API's version the example asks for.
const apiVersion = "2024-10-21"

// requestWindow is the window over which the fake enforces requests per
// minute, as Azure documents it: 1 or 10 seconds.
const requestWindow = 10 * time.Second

// newFakeAzure returns an endpoint with the given deployments, each
// with its requests and tokens per minute, timed by now (time.Now when
// nil). Serve it with start.
func newFakeAzure(now func() time.Time, deps map[string][2]int) *fakeAzure {
	if now == nil {
		now = time.Now
	}
	f := &fakeAzure{now: now, deps: map[string]*deployment{}}
	for name, lim := range deps {
		f.deps[name] = &deployment{rpm: lim[0], tpm: lim[1]}
	}
	return f
}

// start serves f over TLS, HTTP/2 enabled, on a free port of 127.0.0.1.
func (f *fakeAzure) start() {
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
}

// close stops the server start started, waiting for requests in flight.
func (f *fakeAzure) close() {
	if f.srv != nil {
		f.srv.Close()
	}
}

// Stats returns what the endpoint saw so far.
func (f *fakeAzure) Stats() fakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// quotas says what each deployment allows.
func (f *fakeAzure) quotas() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := slices.Sorted(maps.Keys(f.deps))
	parts := make([]string, len(names))
	for i, name := range names {
		d := f.deps[name]
		parts[i] = fmt.Sprintf("%s %d RPM %d TPM", name, d.rpm, d.tpm)
	}
	return strings.Join(parts, ", ")
}

// Accepted returns the requests accepted for a deployment.
func (f *fakeAzure) Accepted(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.deps[name]; d != nil {
		return d.accepted
	}
	return 0
}

// chatRequest is the part of a chat completion body the fake reads.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	MaxTokens           int  `json:"max_tokens"`
	MaxCompletionTokens int  `json:"max_completion_tokens"`
	Stream              bool `json:"stream"`
	StreamOptions       struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// text returns the prompt's text: every string content, and the text
// parts of every array content.
func (r chatRequest) text() string {
	var b strings.Builder
	for _, m := range r.Messages {
		var s string
		if json.Unmarshal(m.Content, &s) == nil {
			b.WriteString(s)
			continue
		}
		var parts []struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(m.Content, &parts) == nil {
			for _, p := range parts {
				b.WriteString(p.Text)
			}
		}
	}
	return b.String()
}

// promptTokens counts a prompt as the fake's tokenizer does: a token per
// four bytes of text, and 3 a message, at least one.
func (r chatRequest) promptTokens() int {
	return max(1, len(r.text())/4+3*len(r.Messages))
}

// outputCap is what the request may write: its max_completion_tokens or
// max_tokens, or 4096 when it sets neither.
func (r chatRequest) outputCap() int {
	switch {
	case r.MaxCompletionTokens > 0:
		return r.MaxCompletionTokens
	case r.MaxTokens > 0:
		return r.MaxTokens
	}
	return 4096
}

// reply is the text every answer carries, one event per word in a stream.
var reply = []string{"A", " cat", " sat", " on", " the", " mat."}

// modelVersion is the model Azure names in its answers: the deployment's
// underlying model, not the deployment's name.
const modelVersion = "gpt-4o-mini-2024-07-18"

// ServeHTTP answers the chat completions of the classic and v1 paths.
func (f *fakeAzure) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := f.route(r)
	if !ok {
		writeError(w, http.StatusNotFound, map[string]any{"code": "404", "message": "Resource not found"})
		return
	}
	if r.Header.Get("api-key") == "" {
		writeError(w, http.StatusUnauthorized, map[string]any{"code": "401",
			"message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."})
		return
	}
	var req chatRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, map[string]any{"code": "BadRequest", "message": "Invalid JSON: " + err.Error()})
		return
	}
	if name == "" {
		name = req.Model // the v1 path names the deployment in the body
	}
	prompt := req.promptTokens()
	f.mu.Lock()
	f.stats.Requests++
	d := f.deps[name]
	if d == nil {
		f.stats.NotFound404++
		f.mu.Unlock()
		writeError(w, http.StatusNotFound, map[string]any{"code": "DeploymentNotFound",
			"message": "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."})
		return
	}
	wait, remReq, remTok := d.admit(f.now(), prompt+req.outputCap())
	if f.limitHeaders {
		w.Header().Set("x-ratelimit-limit-requests", strconv.Itoa(d.rpm))
		w.Header().Set("x-ratelimit-limit-tokens", strconv.Itoa(d.tpm))
	}
	w.Header().Set("x-ratelimit-remaining-requests", strconv.Itoa(remReq))
	w.Header().Set("x-ratelimit-remaining-tokens", strconv.Itoa(remTok))
	w.Header().Set("x-ms-region", "Sweden Central")
	w.Header().Set("apim-request-id", "00000000-0000-0000-0000-000000000000")
	switch {
	case wait > 0:
		f.stats.Rejected429++
		f.mu.Unlock()
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("retry-after-ms", strconv.FormatInt(max(1, (wait+time.Millisecond-1).Milliseconds()), 10))
		writeError(w, http.StatusTooManyRequests, map[string]any{"code": "429", "message": fmt.Sprintf(
			"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version %s have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after %d seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.",
			apiVersion, secs)})
		return
	case strings.Contains(req.text(), blockedWord):
		f.stats.Filtered400++
		f.mu.Unlock()
		writeError(w, http.StatusBadRequest, contentFilterError)
		return
	}
	d.accepted++
	f.stats.Accepted++
	f.stats.PromptTokens += prompt
	f.stats.OutputTokens += len(reply)
	f.stats.MaxInWindow = max(f.stats.MaxInWindow, d.requests)
	if req.Stream {
		f.stats.Streams++
	}
	f.mu.Unlock()
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(completion(prompt))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	fl, _ := w.(http.Flusher)
	send := func(v any) {
		b, _ := json.Marshal(v)
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
	for _, ev := range streamEvents(prompt, req.StreamOptions.IncludeUsage) {
		send(ev)
	}
	_, _ = fmt.Fprint(w, "data: [DONE]\n\n")
}

// route returns the deployment a request's path names ("" on the v1
// path, which names it in the body), or false for any other path, or a
// classic path without its api-version.
func (f *fakeAzure) route(r *http.Request) (string, bool) {
	if r.Method != http.MethodPost {
		return "", false
	}
	if r.URL.Path == "/openai/v1/chat/completions" {
		return "", true
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/openai/deployments/")
	if !ok || r.URL.Query().Get("api-version") == "" {
		return "", false
	}
	name, ok := strings.CutSuffix(rest, "/chat/completions")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// admit counts a request of the given tokens at now against the
// deployment's limits, and returns how long until it would be admitted
// (0 when it is) and what remains of each budget.
func (d *deployment) admit(now time.Time, tokens int) (wait time.Duration, remRequests, remTokens int) {
	perWindow := max(1, (d.rpm*int(requestWindow/time.Second)+59)/60)
	if now.Sub(d.window) >= requestWindow {
		d.window, d.requests = now, 0
	}
	if now.Sub(d.minute) >= time.Minute {
		d.minute, d.tokens = now, 0
	}
	switch {
	case d.requests >= perWindow:
		wait = d.window.Add(requestWindow).Sub(now)
	case d.tpm > 0 && d.tokens+tokens > d.tpm:
		wait = d.minute.Add(time.Minute).Sub(now)
	default:
		d.requests++
		d.tokens += tokens
	}
	return wait, perWindow - d.requests, max(0, d.tpm-d.tokens)
}

// completion returns a chat completion answering a prompt of the given
// tokens, as Azure writes one.
func completion(prompt int) map[string]any {
	return map[string]any{
		"id": "chatcmpl-fake", "object": "chat.completion", "created": 1733600000, "model": modelVersion,
		"system_fingerprint":    "fp_fake",
		"prompt_filter_results": []any{map[string]any{"prompt_index": 0, "content_filter_results": passed}},
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "stop", "logprobs": nil,
			"message":                map[string]any{"role": "assistant", "content": strings.Join(reply, "")},
			"content_filter_results": passed,
		}},
		"usage": usage(prompt),
	}
}

// usage is what an answer to a prompt of the given tokens reports.
func usage(prompt int) map[string]any {
	return map[string]any{
		"prompt_tokens": prompt, "completion_tokens": len(reply), "total_tokens": prompt + len(reply),
		"prompt_tokens_details":     map[string]any{"cached_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": 0},
	}
}

// streamEvents returns the events of a streamed answer, as Azure sends
// them: one with the prompt's filter results and no choice, one a word,
// one with the finish reason and, when asked for, one with the usage.
func streamEvents(prompt int, withUsage bool) []map[string]any {
	chunk := func(choices []any) map[string]any {
		return map[string]any{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1733600000,
			"model": modelVersion, "system_fingerprint": "fp_fake", "choices": choices}
	}
	evs := []map[string]any{{"id": "", "object": "", "created": 0, "model": "", "choices": []any{},
		"prompt_filter_results": []any{map[string]any{"prompt_index": 0, "content_filter_results": passed}}}}
	for k, word := range reply {
		delta := map[string]any{"content": word}
		if k == 0 {
			delta["role"] = "assistant"
		}
		evs = append(evs, chunk([]any{map[string]any{"index": 0, "delta": delta, "finish_reason": nil, "content_filter_results": passed}}))
	}
	evs = append(evs, chunk([]any{map[string]any{"index": 0, "delta": map[string]any{}, "finish_reason": "stop", "content_filter_results": map[string]any{}}}))
	if withUsage {
		last := chunk([]any{})
		last["usage"] = usage(prompt)
		evs = append(evs, last)
	}
	return evs
}

// passed is the content filter's verdict on a harmless text.
var passed = map[string]any{
	"hate":      map[string]any{"filtered": false, "severity": "safe"},
	"self_harm": map[string]any{"filtered": false, "severity": "safe"},
	"sexual":    map[string]any{"filtered": false, "severity": "safe"},
	"violence":  map[string]any{"filtered": false, "severity": "safe"},
}

// contentFilterError is Azure's refusal of a prompt its content filter
// flags.
var contentFilterError = map[string]any{
	"message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
	"type":    nil, "param": "prompt", "code": "content_filter", "status": 400,
	"innererror": map[string]any{
		"code": "ResponsibleAIPolicyViolation",
		"content_filter_result": map[string]any{
			"hate":      map[string]any{"filtered": false, "severity": "safe"},
			"self_harm": map[string]any{"filtered": false, "severity": "safe"},
			"sexual":    map[string]any{"filtered": false, "severity": "safe"},
			"violence":  map[string]any{"filtered": true, "severity": "high"},
		},
	},
}

// writeError writes an error object as Azure OpenAI does.
func writeError(w http.ResponseWriter, code int, e map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}
