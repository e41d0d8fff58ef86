package ratellmiter

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A 429 whose error body breaks off (the connection lost after the
// headers) is still a rate limit, by its status and headers: the limiter
// pauses until its Retry-After is over and the request is sent again, so
// the caller gets the answer, and the refused call's tokens go back to the
// budget. One whose headers say it must not be sent again (an exhausted
// quota) is handed on as it came, without a pause.
func TestTransportA429WhoseBodyBreaksOffPausesAndIsSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		var sent []time.Duration
		start := time.Now()
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			calls++
			sent = append(sent, time.Since(start))
			switch {
			case calls == 1:
				resp := jsonResponse(r, http.StatusTooManyRequests, http.Header{"Retry-After": {"3"}}, "")
				resp.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"error":`), errReader{io.ErrUnexpectedEOF}))
				return resp, nil
			case r.URL.Path == "/v1/quota":
				resp := jsonResponse(r, http.StatusTooManyRequests, http.Header{"X-Should-Retry": {"false"}}, "")
				resp.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"error":`), errReader{io.ErrUnexpectedEOF}))
				return resp, nil
			}
			return jsonResponse(r, http.StatusOK, nil, `{"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}`), nil
		})
		l := newLimiter(t, 600, WithTokensPerMinute(1000))
		client := &http.Client{Transport: tpTransport(t, rt, WithLimiter(l))}
		post := func(path string) (*http.Response, error) {
			resp, err := client.Post(fakeURL+path, "application/json",
				strings.NewReader(`{"model":"gpt-4o-mini","max_completion_tokens":900,"messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
			return resp, err
		}

		resp, err := post("/v1/chat/completions")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the caller gets the answer to the request sent again")
		require.Len(t, sent, 2)
		assert.Equal(t, 3*time.Second, sent[1]-sent[0], "sent again when the Retry-After is over")
		st := l.Stats()
		assert.EqualValues(t, 1, st.Pauses)
		assert.EqualValues(t, 1, st.RateLimited)

		// The refused attempt's 900 tokens went back, and the answered one
		// was charged its usage: the next call's fit at once.
		before := time.Now()
		resp, err = post("/v1/chat/completions")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Less(t, time.Since(before), time.Second, "the tokens of the refused call came back")

		// An exhausted quota whose body breaks off is handed on, its
		// error with it.
		resp, err = post("/v1/quota")
		require.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, 4, calls)
		assert.EqualValues(t, 1, l.Stats().Pauses, "no pause for an exhausted quota")
	})
}
