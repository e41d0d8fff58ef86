package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// fakeRuntime is an Amazon Bedrock runtime endpoint over TLS on 127.0.0.1
// for the AWS SDK's own client, bedrockruntime, for any model: Converse
// (POST /model/{modelId}/converse) and ConverseStream (.../converse-stream)
// answer in the Converse API's shape, with its camelCase usage, the stream
// as an AWS event stream ending with a metadata event; InvokeModel and
// InvokeModelWithResponseStream answer as a Meta Llama model does, the
// stream's last chunk carrying Bedrock's invocation metrics; CountTokens
// answers {"inputTokens": N}. The next requests can be refused as Bedrock
// refuses them (see refuse). When now is set, a request whose SigV4
// signature (its X-Amz-Date) is more than five minutes old by now is
// refused as Bedrock refuses it: 403 InvalidSignatureException.
type fakeRuntime struct {
	in, out int // the usage every answer reports
	// cacheRead and cacheWrite are the prompt-cache figures the Converse
	// answers report beside it, when not 0.
	cacheRead, cacheWrite int
	now                   func() time.Time

	mu      sync.Mutex
	calls   []string // "method model" of each request, refused ones too
	expired int      // requests refused for an expired signature
	refusal []refusal
	srv     *httptest.Server
}

// refusal is an error answer of Bedrock's.
type refusal struct {
	status int
	typ    string
	header http.Header
}

// refuse makes the next request fail with status and Bedrock's error type
// typ (x-amzn-ErrorType), with header's fields added.
func (f *fakeRuntime) refuse(status int, typ string, header http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refusal = append(f.refusal, refusal{status, typ, header})
}

// startRuntime starts a fakeRuntime whose answers report in input and out
// output tokens, stopped with the test.
func startRuntime(t *testing.T, in, out int) *fakeRuntime {
	f := &fakeRuntime{in: in, out: out}
	f.srv = httptest.NewUnstartedServer(f)
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// Calls returns "method model" of each request so far.
func (f *fakeRuntime) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// Expired returns how many requests were refused for an expired signature.
func (f *fakeRuntime) Expired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expired
}

// runtimeTransport returns a transport that trusts f and closes every
// connection after its answer.
func runtimeTransport(t *testing.T, f *fakeRuntime) *http.Transport {
	tr := f.srv.Client().Transport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newRuntimeClient returns the AWS SDK's Bedrock runtime client for f,
// sending through rt and signing with fakeCredentials, with its own
// retries off unless an option turns them on.
func newRuntimeClient(f *fakeRuntime, rt http.RoundTripper, opts ...func(*bedrockruntime.Options)) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(f.srv.URL),
		Credentials:      fakeCredentials,
		HTTPClient:       &http.Client{Transport: rt},
		RetryMaxAttempts: 1,
	}, opts...)
}

// converseInput is a Converse call to model capped at maxTokens.
func converseInput(model string, maxTokens int32) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{
		ModelId: aws.String(model),
		Messages: []types.Message{{
			Role:    types.ConversationRoleUser,
			Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Say hello in three words."}},
		}},
		InferenceConfig: &types.InferenceConfiguration{MaxTokens: aws.Int32(maxTokens)},
	}
}

// converseStream makes a ConverseStream call to model capped at maxTokens
// and returns its text and the usage its metadata event reported.
func converseStream(c *bedrockruntime.Client, model string, maxTokens int32) (string, *types.TokenUsage, error) {
	in := converseInput(model, maxTokens)
	out, err := c.ConverseStream(context.Background(), &bedrockruntime.ConverseStreamInput{
		ModelId: in.ModelId, Messages: in.Messages, InferenceConfig: in.InferenceConfig,
	})
	if err != nil {
		return "", nil, err
	}
	s := out.GetStream()
	defer func() { _ = s.Close() }()
	var text string
	var usage *types.TokenUsage
	for ev := range s.Events() {
		switch e := ev.(type) {
		case *types.ConverseStreamOutputMemberContentBlockDelta:
			if d, ok := e.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
				text += d.Value
			}
		case *types.ConverseStreamOutputMemberMetadata:
			usage = e.Value.Usage
		}
	}
	return text, usage, s.Err()
}

func (f *fakeRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/invoke-with-bidirectional-stream") {
		f.duplex(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	w.Header().Set("X-Amzn-Requestid", "f00dcafe-0000-4000-8000-000000000000")
	if f.now != nil {
		w.Header().Set("Date", f.now().UTC().Format(http.TimeFormat)) // the clients' clock
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/")
	k := strings.LastIndexByte(rest, '/')
	if !ok || r.Method != http.MethodPost || k < 0 {
		bedrockError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation")
		return
	}
	model, err := url.PathUnescape(rest[:k])
	method := rest[k+1:]
	if err != nil {
		bedrockError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") {
		bedrockError(w, http.StatusForbidden, "AccessDeniedException", "the request is not signed")
		return
	}
	if signed, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date")); f.now != nil && (err != nil || f.now().Sub(signed) > 5*time.Minute) {
		f.mu.Lock()
		f.expired++
		f.mu.Unlock()
		bedrockError(w, http.StatusForbidden, "InvalidSignatureException", "Signature expired: "+r.Header.Get("X-Amz-Date")+" is now earlier than 5 min. ago")
		return
	}
	if !json.Valid(body) {
		bedrockError(w, http.StatusBadRequest, "ValidationException", "malformed input request")
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, method+" "+model)
	var no *refusal
	if len(f.refusal) > 0 {
		no = &f.refusal[0]
		f.refusal = f.refusal[1:]
	}
	f.mu.Unlock()
	if no != nil {
		for k, v := range no.header {
			w.Header()[k] = v
		}
		bedrockError(w, no.status, no.typ, "refused by the fake endpoint")
		return
	}

	usage := fmt.Sprintf(`{"inputTokens":%d,"outputTokens":%d,"totalTokens":%d`, f.in, f.out, f.in+f.out+f.cacheRead+f.cacheWrite)
	if f.cacheRead != 0 || f.cacheWrite != 0 {
		usage += fmt.Sprintf(`,"cacheReadInputTokens":%d,"cacheWriteInputTokens":%d`, f.cacheRead, f.cacheWrite)
	}
	usage += "}"
	switch method {
	case "converse":
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"output":{"message":{"role":"assistant","content":[{"text":%q}]}},"stopReason":"end_turn","usage":%s,"metrics":{"latencyMs":120}}`,
			strings.Join(reply, ""), usage)
	case "converse-stream":
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		send := eventSender(w)
		send("messageStart", `{"role":"assistant"}`)
		for _, part := range reply {
			send("contentBlockDelta", fmt.Sprintf(`{"contentBlockIndex":0,"delta":{"text":%q}}`, part))
		}
		send("contentBlockStop", `{"contentBlockIndex":0}`)
		send("messageStop", `{"stopReason":"end_turn"}`)
		send("metadata", fmt.Sprintf(`{"usage":%s,"metrics":{"latencyMs":120}}`, usage))
	case "invoke":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", fmt.Sprint(f.in))
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", fmt.Sprint(f.out))
		_, _ = fmt.Fprintf(w, `{"generation":%q,"prompt_token_count":%d,"generation_token_count":%d,"stop_reason":"stop"}`,
			strings.Join(reply, ""), f.in, f.out)
	case "invoke-with-response-stream":
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
		send := eventSender(w)
		for i, part := range reply {
			chunk := fmt.Sprintf(`{"generation":%q,"prompt_token_count":null,"generation_token_count":%d,"stop_reason":null}`, part, i+1)
			if i == len(reply)-1 {
				chunk = fmt.Sprintf(`{"generation":%q,"prompt_token_count":null,"generation_token_count":%d,"stop_reason":"stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":%d,"outputTokenCount":%d,"invocationLatency":120,"firstByteLatency":40}}`,
					part, i+1, f.in, f.out)
			}
			payload, _ := json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString([]byte(chunk))})
			send("chunk", string(payload))
		}
	case "count-tokens":
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"inputTokens":%d}`, f.in)
	default:
		bedrockError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation")
	}
}

// eventSender returns a function that writes one event of an AWS event
// stream to w, of the given type and JSON payload, and flushes it.
func eventSender(w http.ResponseWriter) func(typ, payload string) {
	enc := eventstream.NewEncoder()
	return func(typ, payload string) {
		var buf bytes.Buffer
		_ = enc.Encode(&buf, eventstream.Message{
			Headers: eventstream.Headers{
				{Name: ":event-type", Value: eventstream.StringValue(typ)},
				{Name: ":content-type", Value: eventstream.StringValue("application/json")},
				{Name: ":message-type", Value: eventstream.StringValue("event")},
			},
			Payload: []byte(payload),
		})
		_, _ = w.Write(buf.Bytes())
		w.(http.Flusher).Flush()
	}
}

// duplex answers InvokeModelWithBidirectionalStream over HTTP/2: it sends
// its answer's headers at once, then answers each chunk of the request's
// event stream with a chunk of the same bytes, as they come, until the
// request's stream ends.
func (f *fakeRuntime) duplex(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, "invoke-with-bidirectional-stream")
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	send := eventSender(w)
	dec := eventstream.NewDecoder()
	for {
		signed, err := dec.Decode(r.Body, nil)
		if err != nil {
			return
		}
		// Each event comes signed: a message whose payload is the
		// event's own message.
		msg, err := dec.Decode(bytes.NewReader(signed.Payload), nil)
		if err != nil {
			return
		}
		send("chunk", string(msg.Payload))
	}
}
