package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// anthropic-sdk-go drops the response of a call whose context ends as the
// answer's headers arrive, without closing its body; net/http gives up on
// the body then. The ticket is finished when the request's context ends,
// rather than held for ever.
func TestTransportFinishesTheTicketOfABodyDroppedWhenItsContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithMaxInFlight(1))
		ctx, cancel := context.WithCancel(context.Background())
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := base.RoundTrip(r)
			cancel() // the caller gives up just as the answer arrives
			return resp, err
		})
		client := tpAnthropic(srv.URL, tpTransport(t, rt, WithLimiter(l)))
		stream := client.Messages.NewStreaming(ctx, tpMessage())
		for stream.Next() {
		}
		require.ErrorIs(t, stream.Err(), context.Canceled)
		require.NoError(t, stream.Close())
		synctest.Wait()
		assertSettled(t, l, 1)

		time.Sleep(time.Second) // past the request rate's spacing
		tk, ok := l.TryAcquire()
		assert.True(t, ok, "the in-flight slot is free again")
		tk.Done()
		base.CloseIdleConnections()
	})
}
