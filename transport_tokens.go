package ratellmiter

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// The transport and token budgets: when the limiter has one
// (WithTokensPerMinute and the like), each request is charged an estimate
// read from its JSON body, decompressed first when it is sent with
// Content-Encoding: gzip (the prompt's text and the tool definitions at four
// characters a token, plus a few tokens a message, each image by its
// provider's documented rule, its size read from the header of an inline
// image, at the most that provider charges for one when its size is not
// known (a URL, a file), but no more than a minute of the budget, and each
// PDF document by its pages at the most its provider gives for a page (the
// page objects of an inline PDF counted, one page for a URL or a file, the
// pages of a PDF that shows no page object estimated from its size), a bound
// charged no more than a minute of the budget either, and audio and video by
// their playing time, read from an inline file's header (see
// signals.Request.MediaTokens), as input; a Gemini request's media by what
// the model its URL names counts (see signals.ParseRequestFor); max_tokens,
// max_completion_tokens, max_output_tokens, Bedrock's Converse API's
// inferenceConfig.maxTokens or the cap of another Bedrock model's own
// request (see signals.Request.MaxTokens), times the completions asked
// for with "n", as output, or without a cap the mean output of its model's
// uncapped answers, see outputMeans), and the charge is corrected from the
// usage the response reports: the "usage" object of a JSON answer (read as
// the answer passes, of any length, keeping nothing of it but its usage
// objects; see signals.AnswerUsage), or the usage events of a stream
// (OpenAI's final chunk with stream_options.include_usage, Anthropic's
// message_start and message_delta, also inside the AWS event stream that
// Amazon Bedrock's invoke-with-response-stream sends, whose last chunk
// also carries Bedrock's own invocation metrics, read for a model whose
// events report no usage, and the metadata
// event that ends its converse-stream, see signals.EventStreamUsage); the
// usage of Bedrock's Converse API is read in its camelCase (inputTokens,
// outputTokens, cacheWriteInputTokens; its cacheReadInputTokens are not
// charged), and an Amazon Bedrock answer whose body reports no usage (an
// InvokeModel answer of Meta's Llama, say) is charged the token counts of
// its headers, X-Amzn-Bedrock-Input-Token-Count and -Output-Token-Count.
// A response closed before its end keeps
// the estimate, unless the whole answer had passed: openai-go closes a
// stream as soon as it reads "data: [DONE]". An Anthropic stream is whole
// only once its message_stop has passed: one the server breaks off (with an
// error event, as it does when overloaded mid-stream) keeps the estimate
// even when it is read to its end, since its message_start reports only the
// input and an output of 1 token. A request the server refuses with a 4xx
// answer, a 429 included, or redirects (3xx), is charged nothing; a 5xx
// answer keeps its estimate, because the server may have run the model
// before it failed. An upload (a body whose Content-Type is not JSON: a
// multipart form, a file) is not read for its tokens (a form is read only
// for its model, when routing by model): it is charged no estimate, only the
// usage its answer reports. An audio transcription or translation (OpenAI's
// /v1/audio/transcriptions and /translations) is the exception: its form's
// file is read as it streams by, from a copy GetBody gives and without
// keeping it, and charged its playing time (see signals.AudioFileTokens),
// then the usage its answer reports (its audio tokens). A file a JSON body
// gives by reference is charged a guess until an answer says what it costs
// (see refCosts), a prompt prefix Anthropic's cache is known to hold is
// not charged (see promptCache), and a Responses API request that
// continues a response is charged that response's tokens (see
// transport_context.go). A request that only counts a prompt's
// tokens (Anthropic's /v1/messages/count_tokens, on Vertex AI
// .../count-tokens:rawPredict, Amazon Bedrock's
// /model/{modelId}/count-tokens, OpenAI's
// /v1/responses/input_tokens, Gemini's :countTokens) runs no model, and the
// providers do not count it against their token limits: it takes a ticket
// but is charged no tokens. So does an update of the metadata of an object
// OpenAI stores (a chat completion, an Assistants run), whose answer
// reports the usage of the call that made the object, not its own, and
// the creation of a batch (Anthropic's /v1/messages/batches, OpenAI's
// /v1/batches), whose requests the provider runs later, outside its
// per-minute limits; a batch's body, up to 256 MB at Anthropic, is not
// read at all (it names no model to route it by).

// maxUsageBody bounds how much of a gzip-compressed JSON answer is kept
// to read its usage; an answer that is not compressed is read as it
// passes, and nothing of it is kept but its usage.
const maxUsageBody = 4 << 20

// maxGzipUsage bounds how far a compressed answer is decompressed to read
// its usage.
const maxGzipUsage = 64 << 20

// chargesNoTokens reports whether req runs no model within the
// provider's per-minute token limits, and so is charged no tokens: it
// counts a prompt's tokens (see countsTokens), updates a stored object
// (see updatesStoredObject) or creates a batch (see createsBatch).
func chargesNoTokens(req *http.Request) bool {
	return countsTokens(req) || updatesStoredObject(req) || createsBatch(req)
}

// createsBatch reports whether req creates a batch of requests, run later
// and outside the per-minute limits: Anthropic's Message Batches API (POST
// .../messages/batches), whose limits are its own, and OpenAI's Batch API
// (POST .../batches), whose requests count against a queue of enqueued
// tokens instead. Its body names no model at its top, and is not read.
func createsBatch(req *http.Request) bool {
	return req.Method == http.MethodPost && req.URL != nil &&
		strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/batches")
}

// countsTokens reports whether req asks only for a count of its prompt's
// tokens (Anthropic's count_tokens, which anthropic-sdk-go sends on Vertex
// AI to .../publishers/anthropic/models/count-tokens:rawPredict, Amazon
// Bedrock's /model/{modelId}/count-tokens, OpenAI's
// responses/input_tokens, Gemini's countTokens), which uses no tokens.
func countsTokens(req *http.Request) bool {
	if req.URL == nil {
		return false
	}
	p := strings.TrimSuffix(req.URL.Path, "/")
	return strings.HasSuffix(p, "/messages/count_tokens") ||
		strings.HasSuffix(p, "/models/count-tokens:rawPredict") ||
		strings.HasSuffix(p, "/count-tokens") && bedrockModel(req.URL) != "" ||
		strings.HasSuffix(p, "/responses/input_tokens") ||
		strings.HasSuffix(p, ":countTokens")
}

// updatesStoredObject reports whether req changes the metadata of an
// object OpenAI stores: a chat completion (POST .../chat/completions/{id})
// or an Assistants run (POST .../threads/{thread}/runs/{run}). It runs no
// model, and its answer is the object, with the usage of the call that
// made it.
func updatesStoredObject(req *http.Request) bool {
	if req.Method != http.MethodPost || req.URL == nil {
		return false
	}
	p := strings.TrimSuffix(req.URL.Path, "/")
	i := strings.LastIndexByte(p, '/')
	if i < 0 || i == len(p)-1 {
		return false
	}
	parent := p[:i]
	if strings.HasSuffix(parent, "/chat/completions") {
		return true
	}
	thread, ok := strings.CutSuffix(parent, "/runs")
	if !ok {
		return false
	}
	j := strings.LastIndexByte(thread, '/')
	return j > 0 && j < len(thread)-1 && strings.HasSuffix(thread[:j], "/threads")
}

// estimate returns the token charge of a request req to l of JSON body,
// for model (see signals.ParseRequestFor), and a function that learns
// from its answer's usage (and the id of the response it names) what its
// files given by reference cost (see refCosts), which prompt prefixes
// the provider's cache holds (see promptCache), how much its model
// writes when it sets no output cap (see outputMeans), and what the
// response it creates holds (see transport_context.go); the charge is
// less the tokens of the longest prefix the cache is known to hold, plus
// those of the response it continues, and, without a cap, its output is
// charged that mean.
func (t *Transport) estimate(l *BucketRateLimiter, req *http.Request, body []byte, model string) (AcquireOption, func(signals.Usage, string)) {
	prefixes := signals.CachePrefixes(body)
	var cached int64
	if len(prefixes) > 0 {
		cached = t.cache.discount(l, prefixes, l.now())
	}
	r := signals.ParseRequestFor(body, model)
	uncapped := r.MaxTokens <= 0
	var key string
	var guess int64
	if uncapped {
		key = learnedKey(l, cmp.Or(r.Model, model))
		r.MaxTokens = t.outputs.get(key)
		guess = r.EstimateOutputTokens()
	}
	var earlier int64 // the conversation the server adds
	for _, id := range [...]string{r.PreviousResponseID, r.Conversation} {
		if id != "" {
			n, _ := t.contexts.get(learnedKey(l, id))
			earlier = max(earlier, n)
		}
	}
	responses := createsResponse(req)
	est, learnRef := t.refs.estimate(l, r, earlier-cached, earlier, guess)
	return est, func(u signals.Usage, id string) {
		if learnRef != nil {
			learnRef(u.InputTokens)
		}
		if len(prefixes) > 0 {
			t.cache.learn(l, prefixes, u, l.now())
		}
		if uncapped {
			t.outputs.add(key, u.OutputTokens/max(r.Choices, 1))
		}
		if responses {
			holds := addClamped(u.InputTokens, u.OutputTokens)
			for _, name := range [...]string{id, r.Conversation} {
				if name != "" {
					t.contexts.set(learnedKey(l, name), holds, maxContexts)
				}
			}
		}
	}
}

// tokenCharge returns the option of an estimate of in input and out
// output tokens, of which bound (of the input) is a bound and outBound (of
// the output) a guess, each clamped to what a ticket holds.
func tokenCharge(in, out, bound, outBound int64) AcquireOption {
	in, out = min(in, math.MaxInt32), min(out, math.MaxInt32)
	bound, outBound = min(bound, math.MaxInt32), min(outBound, math.MaxInt32)
	return acquireOption(func(a *acquireConfig) error {
		a.in, a.out, a.bound, a.outBound = in, out, bound, outBound
		return nil
	})
}

// usageTap collects the usage a response reports while its body is read.
type usageTap struct {
	// learn, when set, learns from the usage and the id of the response
	// (see Transport.estimate).
	learn  func(signals.Usage, string)
	stream *signals.StreamUsage // an event stream
	// events is an AWS event stream (Amazon Bedrock's), whose chunks
	// carry the model's own events.
	events *signals.EventStreamUsage
	answer *signals.AnswerUsage // a JSON answer, read as it passes
	// A JSON answer in gzip is kept, compressed, up to maxUsageBody (buf),
	// and read into answer at its end: over says it was longer, or not
	// valid gzip; size is its Content-Length, when known.
	buf  []byte
	over bool
	size int
	// head is the start of the stream's current line, up to
	// maxEventLine bytes, to tell by its first event whether the stream
	// is an Anthropic Messages stream (messages); seen says that event
	// has passed.
	head     []byte
	messages bool
	seen     bool
	// headers is the usage the answer's headers report (Amazon
	// Bedrock's token counts, see signals.BedrockHeaderUsage), which
	// stands when its body reports none.
	headers signals.Usage
}

// maxEventLine bounds the start of a stream line kept to find the event
// that opens an Anthropic Messages stream ("event: message_start").
const maxEventLine = 32

// newUsageTap returns a tap for resp, or nil when its usage cannot be read.
// A body the caller asked to get compressed (setting Accept-Encoding
// itself) is read for its usage only when it is a JSON answer in gzip.
// The token counts of the headers of an Amazon Bedrock answer stand for
// a body that reports no usage, or is not read.
func newUsageTap(resp *http.Response) *usageTap {
	u := newBodyTap(resp)
	if h := signals.BedrockHeaderUsage(resp.Header); h.Known {
		if u == nil {
			u = &usageTap{over: true} // its body is not read
		}
		u.headers = h
	}
	return u
}

// newBodyTap returns a tap that reads resp's body for its usage, or nil
// when it cannot be read.
func newBodyTap(resp *http.Response) *usageTap {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	switch {
	case enc != "" && enc != "identity" && enc != "gzip":
		return nil
	case mt == "text/event-stream" && enc != "gzip":
		return &usageTap{stream: new(signals.StreamUsage)}
	case mt == "application/vnd.amazon.eventstream" && enc != "gzip":
		// Its usage is final only at the terminal event, as an
		// Anthropic Messages stream's.
		return &usageTap{events: new(signals.EventStreamUsage), messages: true}
	case (mt == "application/json" || mt == "") && enc != "gzip":
		return &usageTap{answer: new(signals.AnswerUsage)}
	case mt == "application/json" || mt == "":
		u := &usageTap{}
		switch n := resp.ContentLength; {
		case n > maxUsageBody:
			u.over = true // too long to be read, as write would find
		case n > 0:
			u.size = int(n)
		}
		return u
	}
	return nil
}

// write takes in the next bytes of the body.
func (u *usageTap) write(p []byte) {
	switch {
	case u.stream != nil:
		_, _ = u.stream.Write(p)
		u.noteEvents(p)
	case u.events != nil:
		_, _ = u.events.Write(p)
	case u.answer != nil:
		_, _ = u.answer.Write(p)
	case u.over:
	case len(u.buf)+len(p) > maxUsageBody:
		u.over, u.buf = true, nil
	default:
		if u.buf == nil {
			// One buffer of the answer's length, not one per growth.
			u.buf = make([]byte, 0, max(u.size, len(p)))
		}
		u.buf = append(u.buf, p...)
	}
}

// noteEvents reads, in the next bytes of a stream, its first event line
// (blank and comment lines before it are skipped), which tells an
// Anthropic Messages stream, whose usage is final only at its terminal
// event.
func (u *usageTap) noteEvents(p []byte) {
	for !u.seen && len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			u.keepHead(p)
			return
		}
		u.keepHead(p[:i])
		if len(u.head) > 0 && u.head[0] != ':' {
			name, ok := bytes.CutPrefix(u.head, []byte("event:"))
			u.messages = ok && len(u.head) < maxEventLine && string(bytes.TrimSpace(name)) == "message_start"
			u.seen, u.head = true, nil
			return
		}
		u.head = u.head[:0]
		p = p[i+1:]
	}
}

// keepHead appends p to the start of the current line, up to
// maxEventLine bytes.
func (u *usageTap) keepHead(p []byte) {
	if n := maxEventLine - len(u.head); n > 0 {
		u.head = append(u.head, p[:min(n, len(p))]...)
	}
}

// usage returns the usage found in the whole body, or else in the
// headers.
func (u *usageTap) usage() signals.Usage {
	if got := u.bodyUsage(); got.Known {
		return got
	}
	return u.headers
}

// bodyUsage returns the usage found in the whole body.
func (u *usageTap) bodyUsage() signals.Usage {
	if u.stream != nil {
		return u.stream.Usage()
	}
	if u.events != nil {
		return u.events.Usage()
	}
	if a := u.read(); a != nil {
		return a.Usage()
	}
	return signals.Usage{}
}

// responseID returns the id of the response the whole body names (see
// signals.AnswerUsage.ResponseID and signals.StreamUsage.ResponseID).
func (u *usageTap) responseID() string {
	if u.stream != nil {
		return u.stream.ResponseID()
	}
	if u.events != nil {
		return ""
	}
	if a := u.read(); a != nil {
		return a.ResponseID()
	}
	return ""
}

// read returns what read a JSON answer: the reader it passed through, or,
// for an answer in gzip, the one it is decompressed through, once, at its
// end (no byte is written after); nil for one in gzip that was too long,
// or is not valid gzip.
func (u *usageTap) read() *signals.AnswerUsage {
	if u.answer == nil && !u.over {
		u.answer, u.buf = gunzipAnswer(u.buf), nil
		u.over = u.answer == nil
	}
	return u.answer
}

// gunzipAnswer reads a gzip-compressed JSON answer as it is decompressed,
// up to maxGzipUsage bytes; nil for one that is not valid gzip or
// decompresses to more.
func gunzipAnswer(body []byte) *signals.AnswerUsage {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	a := new(signals.AnswerUsage)
	n, err := io.Copy(a, io.LimitReader(zr, maxGzipUsage+1))
	if err != nil || n > maxGzipUsage {
		return nil
	}
	return a
}

// complete reports whether the whole answer has passed, so that its usage
// is final even though the reader closed the body before its end: a
// stream's terminal event was seen, or, for a JSON answer, always, since
// only a complete JSON value yields a usage at all.
func (u *usageTap) complete() bool {
	if u.stream != nil {
		return u.stream.Complete()
	}
	if u.events != nil {
		return u.events.Complete()
	}
	return true
}

// final reports whether the usage found so far is the answer's whole
// usage: the answer is complete, or the body was read to its end (atEOF)
// and the answer is not an Anthropic Messages stream, which is whole only
// at its terminal event.
func (u *usageTap) final(atEOF bool) bool {
	return u.complete() || (atEOF && !u.messages)
}

// reconcile corrects tk's charge from the usage the body reported.
func (u *usageTap) reconcile(tk *Ticket) {
	if got := u.usage(); got.Known {
		tk.Used(int(min(got.InputTokens, math.MaxInt32)), int(min(got.OutputTokens, math.MaxInt32)))
		if u.learn != nil {
			u.learn(got, u.responseID())
		}
	}
}

// giveTokensBack refunds the token charge of a request the server
// refused or redirected without working on it (a 4xx answer: a bad
// request, a wrong URL, no credit left; or a 3xx, whose new location
// http.Client asks under a ticket of its own), which used none of its
// tokens. A rate-limited request is refunded when it is handed back.
func giveTokensBack(tk *Ticket, resp *http.Response) {
	if resp.StatusCode >= 300 && resp.StatusCode < 500 {
		tk.Used(0, 0)
	}
}

// tokenBudgeted reports whether the limiter has a token budget. The
// budgets' limits are set once, when the limiter is made, so they are
// read without the lock.
func (l *BucketRateLimiter) tokenBudgeted() bool { return l.bud.tokensOn() }
