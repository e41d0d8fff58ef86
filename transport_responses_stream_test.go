package ratellmiter

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Responses API stream ends with one of three events, response.completed,
// response.incomplete (the answer reached its max_output_tokens) or
// response.failed, each carrying the response's final usage. A caller that
// stops reading at that event and closes the stream, before the body's
// end has come, has its charge corrected by that usage whichever it was.
func TestTransportReconcilesAResponsesStreamClosedAtItsTerminalEvent(t *testing.T) {
	for _, last := range []string{"response.completed", "response.incomplete", "response.failed"} {
		t.Run(last, func(t *testing.T) {
			url, base := openStream(t, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"output\":[],\"usage\":null}}\n\n"+
				"event: "+last+"\ndata: {\"type\":\""+last+"\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"incomplete\",\"output\":[],"+
				"\"usage\":{\"input_tokens\":10,\"output_tokens\":5,\"total_tokens\":15}}}\n\n")
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600, WithTokensPerMinute(60_000), WithTokenBurst(time.Minute))
				client := tpOpenAI(url, tpTransport(t, base, WithLimiter(l)))
				stream := client.Responses.NewStreaming(context.Background(), responses.ResponseNewParams{
					Model:           "gpt-4o",
					Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
					MaxOutputTokens: openai.Int(1000),
				})
				closeAt(t, stream, func(e responses.ResponseStreamEventUnion) string { return e.Type }, last)
				assertSettled(t, l, 1)
				assert.InDelta(t, 60_000-15, tokenLevel(l), 1, "charged the 15 tokens its usage reports, not its estimate of over 1,000")
				base.CloseIdleConnections()
			})
		})
	}
}

// A streamed transcription ends with transcript.text.done, which carries
// its usage: a caller that stops at that event and closes the stream has
// the audio's estimate corrected by it.
func TestTransportReconcilesATranscriptionStreamClosedAtItsLastEvent(t *testing.T) {
	url, base := openStream(t, "data: {\"type\":\"transcript.text.delta\",\"delta\":\"hello\"}\n\n"+
		"data: {\"type\":\"transcript.text.done\",\"text\":\"hello\",\"usage\":{\"type\":\"tokens\",\"input_tokens\":3000,\"output_tokens\":5,\"total_tokens\":3005}}\n\n")
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithTokensPerMinute(60_000), WithTokenBurst(time.Minute))
		client := tpOpenAI(url, tpTransport(t, base, WithLimiter(l)))
		stream := client.Audio.Transcriptions.NewStreaming(context.Background(), openai.AudioTranscriptionNewParams{
			File:  openai.File(bytes.NewReader(make([]byte, 4096)), "a.wav", "audio/wav"),
			Model: openai.AudioModelGPTTranscribe,
		})
		closeAt(t, stream, func(e openai.TranscriptionStreamEventUnion) string { return e.Type }, "transcript.text.done")
		assertSettled(t, l, 1)
		assert.InDelta(t, 60_000-3005, tokenLevel(l), 1, "charged the 3,005 tokens its usage reports, not its audio's estimate")
		base.CloseIdleConnections()
	})
}

// openStream starts a server on 127.0.0.1 that answers every request with
// events, as a stream whose body ends only when the client goes, so that a
// stream's last event comes well before its end. It returns the server's
// URL and a transport to it that keeps no connection.
func openStream(t *testing.T, events string) (string, *http.Transport) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, events)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &http.Transport{DisableKeepAlives: true}
}

// closeAt reads stream up to its first event of type last, and closes it
// there, before the body's end.
func closeAt[T any](t *testing.T, stream *ssestream.Stream[T], typeOf func(T) string, last string) {
	t.Helper()
	for stream.Next() {
		if typeOf(stream.Current()) == last {
			break
		}
	}
	require.NoError(t, stream.Err())
	require.NoError(t, stream.Close())
}
