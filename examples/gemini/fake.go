package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// fakeGemini is an in-process Gemini API endpoint: it answers
// generateContent and streamGenerateContent?alt=sse for any model, and
// limits requests per minute as a token bucket, refusing a request over
// the limit as Gemini does: 429 RESOURCE_EXHAUSTED, with a
// google.rpc.QuotaFailure naming the per-minute quota and a
// google.rpc.RetryInfo whose retryDelay says when the bucket holds a
// request again. Like Gemini, it sends no rate-limit headers.
type fakeGemini struct {
	rpm   float64 // requests refilled per minute
	burst float64 // requests the bucket holds
	now   func() time.Time

	mu     sync.Mutex
	level  float64 // requests in the bucket at last
	last   time.Time
	stats  fakeStats
	srv    *httptest.Server
	models map[string]int // requests accepted per model
}

// fakeStats counts what the fake endpoint saw.
type fakeStats struct {
	Requests    int // generateContent and streamGenerateContent requests
	Accepted    int
	Rejected429 int
	Streams     int // accepted streamGenerateContent requests
}

// newFakeGemini returns an endpoint that admits rpm requests per minute,
// burst at once, timed by now (time.Now when nil). Serve it with start, or
// through its ServeHTTP.
func newFakeGemini(rpm, burst int, now func() time.Time) *fakeGemini {
	if now == nil {
		now = time.Now
	}
	return &fakeGemini{rpm: float64(rpm), burst: float64(burst), level: float64(burst), now: now, models: map[string]int{}}
}

// start serves f on a free port of 127.0.0.1 and returns its base URL.
func (f *fakeGemini) start() string {
	f.srv = httptest.NewServer(f)
	return f.srv.URL
}

// close stops the server start started, waiting for requests in flight.
func (f *fakeGemini) close() {
	if f.srv != nil {
		f.srv.Close()
	}
}

// Stats returns what the endpoint saw so far.
func (f *fakeGemini) Stats() fakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Accepted returns the requests accepted for model.
func (f *fakeGemini) Accepted(model string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.models[model]
}

// take takes a request from the bucket, or returns how long until the
// bucket holds one.
func (f *fakeGemini) take() (ok bool, wait time.Duration) {
	now := f.now()
	if !f.last.IsZero() && now.After(f.last) {
		f.level = min(f.burst, f.level+now.Sub(f.last).Minutes()*f.rpm)
	}
	if now.After(f.last) {
		f.last = now
	}
	if f.level >= 1 {
		f.level--
		return true, 0
	}
	return false, time.Duration((1 - f.level) / f.rpm * float64(time.Minute))
}

// geminiRequest is the part of a generateContent body the fake reads.
type geminiRequest struct {
	Contents []struct {
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"contents"`
	SystemInstruction *struct {
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"systemInstruction"`
}

// promptTokens counts a prompt as the fake's tokenizer does: a token per
// four bytes of text, at least one.
func (r geminiRequest) promptTokens() int {
	n := 0
	for _, c := range r.Contents {
		for _, p := range c.Parts {
			n += len(p.Text)
		}
	}
	if r.SystemInstruction != nil {
		for _, p := range r.SystemInstruction.Parts {
			n += len(p.Text)
		}
	}
	return max(1, n/4)
}

// reply is the text every answer carries, one chunk per word in a stream.
var reply = []string{"A", " cat", " sat", " on", " the", " mat."}

// ServeHTTP answers POST .../models/NAME:generateContent and
// .../models/NAME:streamGenerateContent.
func (f *fakeGemini) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, name, found := strings.Cut(r.URL.Path, "/models/")
	model, method, ok := strings.Cut(name, ":")
	if !found || !ok || r.Method != http.MethodPost || (method != "generateContent" && method != "streamGenerateContent") {
		writeStatus(w, http.StatusNotFound, "NOT_FOUND", "no such method: "+r.URL.Path, nil)
		return
	}
	if r.Header.Get("x-goog-api-key") == "" {
		writeStatus(w, http.StatusForbidden, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.", nil)
		return
	}
	var req geminiRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), nil)
		return
	}
	f.mu.Lock()
	f.stats.Requests++
	ok, wait := f.take()
	if ok {
		f.stats.Accepted++
		f.models[model]++
		if method == "streamGenerateContent" {
			f.stats.Streams++
		}
	} else {
		f.stats.Rejected429++
	}
	f.mu.Unlock()
	if !ok {
		writeStatus(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED",
			"You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
			rateLimitDetails(model, int(f.rpm), wait))
		return
	}
	prompt := req.promptTokens()
	if method == "generateContent" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_ = json.NewEncoder(w).Encode(answer(model, strings.Join(reply, ""), prompt, len(reply), true))
		return
	}
	if r.URL.Query().Get("alt") != "sse" {
		writeStatus(w, http.StatusBadRequest, "INVALID_ARGUMENT", "this fake streams only with alt=sse", nil)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl, _ := w.(http.Flusher)
	for k, word := range reply {
		// Every chunk reports the prompt; the last one the whole usage.
		last := k == len(reply)-1
		b, _ := json.Marshal(answer(model, word, prompt, k+1, last))
		_, _ = fmt.Fprintf(w, "data: %s\r\n\r\n", b)
		if fl != nil {
			fl.Flush()
		}
	}
}

// answer returns a GenerateContentResponse carrying text; its usage
// counts output tokens when last.
func answer(model, text string, prompt, output int, last bool) map[string]any {
	cand := map[string]any{
		"content": map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"},
		"index":   0,
	}
	usage := map[string]any{"promptTokenCount": prompt, "totalTokenCount": prompt}
	if last {
		cand["finishReason"] = "STOP"
		usage["candidatesTokenCount"] = output
		usage["totalTokenCount"] = prompt + output
	}
	return map[string]any{"candidates": []any{cand}, "usageMetadata": usage, "modelVersion": model}
}

// rateLimitDetails returns the details of a per-minute 429 as Gemini sends
// them: the quota exceeded, a link, and when to retry, in whole seconds.
func rateLimitDetails(model string, rpm int, wait time.Duration) []any {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return []any{
		map[string]any{
			"@type": "type.googleapis.com/google.rpc.QuotaFailure",
			"violations": []any{map[string]any{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_requests",
				"quotaId":         "GenerateRequestsPerMinutePerProjectPerModel",
				"quotaDimensions": map[string]any{"location": "global", "model": model},
				"quotaValue":      fmt.Sprint(rpm),
			}},
		},
		map[string]any{
			"@type": "type.googleapis.com/google.rpc.Help",
			"links": []any{map[string]any{"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}},
		},
		map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": fmt.Sprintf("%ds", secs)},
	}
}

// writeStatus writes a google.rpc.Status error as the Gemini API does.
func writeStatus(w http.ResponseWriter, code int, status, message string, details []any) {
	e := map[string]any{"code": code, "message": message, "status": status}
	if details != nil {
		e["details"] = details
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}
