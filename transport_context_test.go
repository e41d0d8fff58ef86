package ratellmiter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
)

// A Responses API request that continues an earlier response with
// previous_response_id has that response's conversation added to its
// input by the server: it is charged, besides its own few tokens, the
// 5,000 input and 1,000 output tokens the earlier answer reported, where
// it was charged its own few alone. A response the transport did not see
// adds nothing.
func TestTransportChargesTheConversationAResponseContinues(t *testing.T) {
	var n atomic.Int32
	srv := answeringServer(t, func() string {
		id := n.Add(1)
		return fmt.Sprintf(`{"id":"resp_%d","object":"response","created_at":1,"status":"completed","model":"gpt-5",`+
			`"output":[],"usage":{"input_tokens":5000,"input_tokens_details":{"cached_tokens":0},`+
			`"output_tokens":1000,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":6000}}`, id)
	})
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6_000_000, WithInputTokensPerMinute(60_000), WithTokenBurst(time.Minute))
		gate, sent, release := gatedTransport(base)
		client := tpOpenAI(srv.URL, tpTransport(t, gate, WithLimiter(l)))
		// charged creates a response to "Go on." after previous ("" for
		// none) and returns the input it was charged before its answer.
		charged := func(previous string) float64 {
			params := responses.ResponseNewParams{
				Model: "gpt-5",
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Go on.")},
			}
			if previous != "" {
				params.PreviousResponseID = openai.String(previous)
			}
			return chargeWhileHeld(t, func() float64 { return inputLevel(l) }, sent, release, func() error {
				_, err := client.Responses.New(context.Background(), params)
				return err
			})
		}
		own := charged("")
		assert.Less(t, own, 20.0, "a request of its own few tokens")
		assert.InDelta(t, own+6000, charged("resp_1"), 1, "and the conversation of resp_1")
		assert.InDelta(t, own, charged("resp_unseen"), 1, "a response never seen adds nothing")
		base.CloseIdleConnections()
	})
}

// inputLevel returns the level of l's input token budget.
func inputLevel(l *BucketRateLimiter) float64 {
	l.lock()
	defer l.mu.Unlock()
	return l.bud.input.level
}

// A request that names a conversation (the Conversations API) has its
// items added by the server: it is charged what the conversation's last
// response through the transport held, given by id or as an object.
func TestTransportChargesTheConversationARequestNames(t *testing.T) {
	var n atomic.Int32
	srv := answeringServer(t, func() string {
		return fmt.Sprintf(`{"id":"resp_%d","object":"response","status":"completed","output":[],`+
			`"usage":{"input_tokens":4000,"output_tokens":200,"total_tokens":4200}}`, n.Add(1))
	})
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6_000_000, WithInputTokensPerMinute(60_000), WithTokenBurst(time.Minute))
		gate, sent, release := gatedTransport(base)
		client := tpOpenAI(srv.URL, tpTransport(t, gate, WithLimiter(l)))
		charged := func(conversation responses.ResponseNewParamsConversationUnion) float64 {
			return chargeWhileHeld(t, func() float64 { return inputLevel(l) }, sent, release, func() error {
				_, err := client.Responses.New(context.Background(), responses.ResponseNewParams{
					Model:        "gpt-5",
					Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Go on.")},
					Conversation: conversation,
				})
				return err
			})
		}
		byID := responses.ResponseNewParamsConversationUnion{OfString: openai.String("conv_1")}
		asObject := responses.ResponseNewParamsConversationUnion{OfConversationObject: &responses.ResponseConversationParam{ID: "conv_1"}}
		own := charged(byID)
		assert.Less(t, own, 20.0, "a new conversation: the request's own few tokens")
		assert.InDelta(t, own+4200, charged(asObject), 1, "and then what its last response held")
		other := responses.ResponseNewParamsConversationUnion{OfString: openai.String("conv_2")}
		assert.InDelta(t, own, charged(other), 1, "another conversation, never seen")
		base.CloseIdleConnections()
	})
}

// A streamed response is learned as well: its id and usage come in its
// response.* events.
func TestTransportLearnsTheConversationOfAStreamedResponse(t *testing.T) {
	var streamed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if streamed.CompareAndSwap(false, true) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_s1\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[],\"usage\":null}}\n\n"+
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_s1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[],"+
				"\"usage\":{\"input_tokens\":3000,\"output_tokens\":500,\"total_tokens\":3500}}}\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"resp_2","object":"response","status":"completed","output":[],"usage":{"input_tokens":3510,"output_tokens":10,"total_tokens":3520}}`)
	}))
	defer srv.Close()
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 6_000_000, WithInputTokensPerMinute(60_000), WithTokenBurst(time.Minute))
		gate, sent, release := gatedTransport(base)
		client := tpOpenAI(srv.URL, tpTransport(t, gate, WithLimiter(l)))
		params := responses.ResponseNewParams{
			Model: "gpt-5",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Go on.")},
		}
		input := func() float64 { return inputLevel(l) }
		chargeWhileHeld(t, input, sent, release, func() error {
			stream := client.Responses.NewStreaming(context.Background(), params)
			for stream.Next() {
			}
			return stream.Err()
		})
		params.PreviousResponseID = openai.String("resp_s1")
		charged := chargeWhileHeld(t, input, sent, release, func() error {
			_, err := client.Responses.New(context.Background(), params)
			return err
		})
		assert.InDelta(t, 3500+10, charged, 10, "the streamed response's 3,500 tokens, and its own few")
		base.CloseIdleConnections()
	})
}
