package ratellmiter

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// askAboutAudio sends OpenAI a chat message with a question and audio (in
// base64, of the given format), capped at 16 output tokens.
func askAboutAudio(client openai.Client, audio, format string) error {
	_, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:               "gpt-4o-audio-preview",
		MaxCompletionTokens: openai.Int(16),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage([]openai.ChatCompletionContentPartUnionParam{
			openai.TextContentPart("What is said?"),
			openai.InputAudioContentPart(openai.ChatCompletionContentPartInputAudioInputAudioParam{Data: audio, Format: format}),
		})},
	})
	return err
}

// audioAnswer is an OpenAI chat answer whose usage counts the audio.
const audioAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-audio-preview",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Silence."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":1214,"completion_tokens":3,"total_tokens":1217}}`

// A request with audio is charged its playing time before the answer:
// two minutes of WAV sent through openai-go cost 120 x 20 tokens, where
// the estimate counted the audio as nothing, so that a burst of such
// requests went out far beyond the token budget. The answer's usage then
// corrects the charge as for any request.
func TestTransportChargesTheSecondsOfAudio(t *testing.T) {
	wav := base64.StdEncoding.EncodeToString(samples.WAV(2*time.Minute, 16000, 1, 16))
	c := chargeOfHeldCall(t, audioAnswer, []Option{WithTokensPerMinute(600_000)}, func(baseURL string, rt http.RoundTripper) error {
		return askAboutAudio(tpOpenAI(baseURL, rt), wav, "wav")
	})
	require.Contains(t, c.body, `"input_audio"`, "the SDK sent the audio part")
	require.Contains(t, c.body, wav[:1000], "the SDK sent the audio")
	// 120 s at 20, 13 bytes of text (3) and one message (4) as input, and
	// 16 as output.
	assert.Equal(t, float64(120*20+3+4+16), c.before, "the charge before the answer")
	assert.Equal(t, float64(1217), c.after, "the charge corrected from the usage")
}

// Audio whose header gives no playing time is charged from its size, as
// if it held 16 kbit/s: few recordings are smaller, so the charge is a
// bound, and a request must not be refused as larger than the budget for
// it. 4 MB of it (2,000 s, 40,000 tokens) against a limiter of 30,000
// tokens a minute is charged the minute's budget, and the usage corrects
// it.
func TestTransportChargesAudioOfUnknownLengthAtMostTheBudget(t *testing.T) {
	audio := base64.StdEncoding.EncodeToString(samples.Noise(4_000_000, 4))
	c := chargeOfHeldCall(t, audioAnswer, []Option{WithTokensPerMinute(30_000)}, func(baseURL string, rt http.RoundTripper) error {
		return askAboutAudio(tpOpenAI(baseURL, rt), audio, "mp3")
	})
	assert.Equal(t, 30_000.0, c.before, "the charge before the answer: the minute's budget, not 40,023 tokens")
	assert.InDelta(t, 1217.0, c.after, 1e-6, "the charge corrected from the usage")
}

// transcriptionAnswer is an OpenAI transcription whose usage counts the
// audio.
const transcriptionAnswer = `{"text":"Hello there.","usage":{"type":"tokens","input_tokens":1500,"output_tokens":40,"total_tokens":1540,` +
	`"input_token_details":{"audio_tokens":1500,"text_tokens":0}}}`

// An audio transcription is a form, not JSON, but its file
// is what the model reads: its playing time is charged before the answer,
// at 20 tokens a second, read from the file's header as the form streams
// by. A file of 90 s costs 1,800 tokens, where it cost none, so that a
// burst of transcriptions went out far beyond the token budget. A file
// whose header gives no playing time is charged from its size, a bound
// charged at most the minute's budget. The answer's usage then corrects
// the charge, and the file reaches the server byte for byte.
func TestTransportChargesATranscriptionItsAudio(t *testing.T) {
	for name, tc := range map[string]struct {
		file   []byte
		budget int
		charge float64
	}{
		"90 s":              {samples.WAV(90*time.Second, 16000, 1, 16), 600_000, 90 * 20},
		"of unknown length": {samples.Noise(4_000_000, 5), 30_000, 30_000},
	} {
		t.Run(name, func(t *testing.T) {
			c := chargeOfHeldCall(t, transcriptionAnswer, []Option{WithTokensPerMinute(tc.budget)}, func(baseURL string, rt http.RoundTripper) error {
				client := tpOpenAI(baseURL, rt)
				_, err := client.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{
					File: openai.File(bytes.NewReader(tc.file), "talk.wav", "audio/wav"), Model: openai.AudioModelGPTTranscribe,
				})
				return err
			})
			require.True(t, strings.Contains(c.body, string(tc.file)), "the server received the file byte for byte")
			assert.Equal(t, tc.charge, c.before, "the charge before the answer")
			assert.InDelta(t, 1540.0, c.after, 1e-6, "the charge corrected from the usage")
		})
	}
}

// The audio endpoints whose forms are read for their file are OpenAI's
// transcriptions and translations, under any prefix; other uploads are not.
func TestTranscribesNamesTheAudioEndpoints(t *testing.T) {
	for path, want := range map[string]bool{
		"/v1/audio/transcriptions":         true,
		"/v1/audio/translations/":          true,
		"/openai/v1/audio/transcriptions":  true,
		"/v1/files":                        false,
		"/v1/audio/speech":                 false,
		"/v1/audio/transcriptions/details": false,
	} {
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+path, nil)
		require.NoError(t, err)
		assert.Equal(t, want, transcribes(req), path)
	}
}

// A transcription routed by the model its form names, to a limiter with a
// token budget, is charged its file's playing time, its form read once for
// both: GetBody gives one copy to read and one to send.
func TestTransportRoutesAndChargesATranscriptionInOnePass(t *testing.T) {
	srv, arrived, release := heldServer(t, transcriptionAnswer)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	wav := samples.WAV(90*time.Second, 16000, 1, 16)

	synctest.Test(t, func(t *testing.T) {
		defer base.CloseIdleConnections()
		defer release()
		m := NewMonitor(WithoutLogs())
		defer m.Stop()
		svc := NewService("openai", nil)
		l, err := svc.NewLimiter(string(openai.AudioModelGPTTranscribe), 600, WithMonitor(m), WithTokensPerMinute(600_000))
		require.NoError(t, err)
		tr := tpTransport(t, base, WithServiceLimiters(svc))
		var getBodies atomic.Int32
		counting := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if gb := r.GetBody; gb != nil {
				r.GetBody = func() (io.ReadCloser, error) { getBodies.Add(1); return gb() }
			}
			return tr.RoundTrip(r)
		})
		client := tpOpenAI(srv.URL, counting)
		full := tokenLevel(l)
		done := make(chan error, 1)
		go func() {
			_, err := client.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{
				File: openai.File(bytes.NewReader(wav), "talk.wav", "audio/wav"), Model: openai.AudioModelGPTTranscribe,
			})
			done <- err
		}()

		awaitArrival(t, arrived, done)
		assert.Equal(t, float64(90*20), full-tokenLevel(l), "the charge before the answer")
		assert.EqualValues(t, 2, getBodies.Load(), "copies of the form from GetBody")
		release()
		require.NoError(t, <-done)
		assertSettled(t, l, 1)
	})
}
