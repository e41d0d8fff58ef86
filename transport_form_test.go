package ratellmiter

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transcriptionServer starts a real server on 127.0.0.1 that answers
// audio transcriptions as OpenAI does (see formServer).
func transcriptionServer(t *testing.T) (*httptest.Server, func() receivedForm) {
	t.Helper()
	return formServer(t, `{"text":"hello"}`)
}

// formService returns a service with a limiter of 600 RPM for each of
// models ("" for its default one).
func formService(t *testing.T, models ...string) (*Service, map[string]*BucketRateLimiter) {
	t.Helper()
	m := NewMonitor()
	t.Cleanup(func() { m.Stop() })
	svc := NewService("openai", nil)
	limiters := map[string]*BucketRateLimiter{}
	for _, model := range models {
		l, err := svc.NewLimiter(model, 600, WithMonitor(m))
		require.NoError(t, err)
		limiters[model] = l
	}
	return svc, limiters
}

// A transcription names its model in a form field, not in JSON: the
// transport routes it to that model's limiter, reading the form as far as
// the field (past the file, which openai-go writes first) without keeping
// it, so a file larger than WithMaxBodyBytes goes out whole.
func TestTransportRoutesATranscriptionByItsFormModel(t *testing.T) {
	srv, received := transcriptionServer(t)
	svc, limiters := formService(t, "", "gpt-transcribe")
	tr := tpTransport(t, nil, WithServiceLimiters(svc), WithMaxBodyBytes(1<<20))
	t.Cleanup(tr.CloseIdleConnections)
	audio := make([]byte, 3<<20)
	_, _ = rand.Read(audio)

	transcribe(t, tpOpenAI(srv.URL, tr), audio)

	assertTranscriptionRouted(t, received(), audio, limiters)
}

// transcribe sends audio to the model gpt-transcribe through client, and
// checks the transcription servers' answer.
func transcribe(t *testing.T, client openai.Client, audio []byte) {
	t.Helper()
	answer, err := client.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{
		File:  openai.File(bytes.NewReader(audio), "speech.mp3", "audio/mpeg"),
		Model: openai.AudioModelGPTTranscribe,
	})
	require.NoError(t, err)
	assert.Equal(t, "hello", answer.Text)
}

// assertTranscriptionRouted asserts that the server received the whole
// transcription form, of the model gpt-transcribe, and that the model's
// limiter issued its ticket, not the default one.
func assertTranscriptionRouted(t *testing.T, got receivedForm, audio []byte, limiters map[string]*BucketRateLimiter) {
	t.Helper()
	assert.Equal(t, "gpt-transcribe", got.model)
	assert.True(t, bytes.Equal(audio, got.file), "the server received the file byte for byte")
	assertSettled(t, limiters["gpt-transcribe"], 1)
	assert.Zero(t, limiters[""].Stats().Issued, "the default limiter issued nothing")
}

// A form whose body has no GetBody is read into memory, as every such
// body is to be sent again after a 429, and routed by its model field,
// wherever that comes.
func TestTransportRoutesAFormWithoutGetBody(t *testing.T) {
	audio := make([]byte, 3<<20)
	_, _ = rand.Read(audio)
	cases := []struct {
		name       string
		modelFirst bool
	}{
		{"model before the file", true},
		{"model after the file", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, received := transcriptionServer(t)
			svc, limiters := formService(t, "", "gpt-transcribe")
			tr := tpTransport(t, nil, WithServiceLimiters(svc))
			t.Cleanup(tr.CloseIdleConnections)
			body, contentType := transcriptionForm(t, audio, "gpt-transcribe", c.modelFirst)

			// A reader http.NewRequest does not know: no GetBody, no length.
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/audio/transcriptions", struct{ io.Reader }{bytes.NewReader(body)})
			require.NoError(t, err)
			require.Nil(t, req.GetBody)
			req.Header.Set("Content-Type", contentType)
			resp, err := tr.Client().Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, http.StatusOK, resp.StatusCode)

			assertTranscriptionRouted(t, received(), audio, limiters)
		})
	}
}

// A form for a model the service has no limiter for, with no default one,
// fails without being sent, as a JSON request does.
func TestTransportRefusesAFormForAModelWithoutLimiter(t *testing.T) {
	srv, received := transcriptionServer(t)
	svc, _ := formService(t, "gpt-4o-mini")
	tr := tpTransport(t, nil, WithServiceLimiters(svc))
	t.Cleanup(tr.CloseIdleConnections)

	client := tpOpenAI(srv.URL, tr)
	_, err := client.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{
		File:  openai.File(strings.NewReader("audio"), "speech.mp3", "audio/mpeg"),
		Model: openai.AudioModelGPTTranscribe,
	})
	require.ErrorIs(t, err, ErrNoLimiter)
	assert.Contains(t, err.Error(), `"gpt-transcribe"`)
	assert.Zero(t, received().n, "nothing was sent")
}

func TestScanFormModel(t *testing.T) {
	form := func(write func(w *multipart.Writer)) (string, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		write(w)
		require.NoError(t, w.Close())
		return b.String(), w.Boundary()
	}
	field := func(name, value string) func(w *multipart.Writer) {
		return func(w *multipart.Writer) { require.NoError(t, w.WriteField(name, value)) }
	}
	file := func(name string) func(w *multipart.Writer) {
		return func(w *multipart.Writer) {
			p, err := w.CreateFormFile(name, "x.bin")
			require.NoError(t, err)
			_, _ = p.Write([]byte("model=gpt-4o"))
		}
	}
	all := func(parts ...func(w *multipart.Writer)) func(w *multipart.Writer) {
		return func(w *multipart.Writer) {
			for _, p := range parts {
				p(w)
			}
		}
	}
	cases := []struct {
		name  string
		parts func(w *multipart.Writer)
		want  string
	}{
		{"model alone", field("model", "gpt-transcribe"), "gpt-transcribe"},
		{"model after a file", all(file("file"), field("language", "en"), field("model", "gpt-transcribe")), "gpt-transcribe"},
		{"the first model wins", all(field("model", "a"), field("model", "b")), "a"},
		{"spaces trimmed", field("model", " whisper-1\r\n"), "whisper-1"},
		{"no model", all(file("file"), field("purpose", "batch")), ""},
		{"a file named model is no field", file("model"), ""},
		{"too long", field("model", strings.Repeat("m", maxFormModel+1)), ""},
		{"longest kept", field("model", strings.Repeat("m", maxFormModel)), strings.Repeat("m", maxFormModel)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, boundary := form(c.parts)
			assert.Equal(t, c.want, scanFormModel(strings.NewReader(body), boundary))
		})
	}
	t.Run("malformed", func(t *testing.T) {
		body, boundary := form(field("model", "gpt-transcribe"))
		assert.Empty(t, scanFormModel(strings.NewReader(body), boundary+"x"), "wrong boundary")
		assert.Empty(t, scanFormModel(strings.NewReader(body[:20]), boundary), "cut short")
	})
}

// transcriptionForm writes a transcription form holding audio as its file
// and model as its model field, before the file or after it, and returns
// the body and its content type.
func transcriptionForm(t *testing.T, audio []byte, model string, modelFirst bool) ([]byte, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if modelFirst {
		require.NoError(t, w.WriteField("model", model))
	}
	part, err := w.CreateFormFile("file", "speech.mp3")
	require.NoError(t, err)
	_, err = part.Write(audio)
	require.NoError(t, err)
	if !modelFirst {
		require.NoError(t, w.WriteField("model", model))
	}
	require.NoError(t, w.Close())
	return b.Bytes(), w.FormDataContentType()
}

// A transcription routed by its form's model and answered 429 is sent
// again whole: the body of the retry is the whole form, file and model.
func TestTransportRetriesARoutedFormWhole(t *testing.T) {
	var (
		mu    sync.Mutex
		forms []receivedForm
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got receivedForm
		if f, _, err := r.FormFile("file"); err == nil {
			got.file, _ = io.ReadAll(f)
			got.model = r.FormValue("model")
		}
		mu.Lock()
		forms = append(forms, got)
		first := len(forms) == 1
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if first {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"text":"hello"}`)
	}))
	t.Cleanup(srv.Close)
	audio := make([]byte, 1<<20)
	_, _ = rand.Read(audio)
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		m := NewMonitor()
		defer m.Stop()
		svc := NewService("openai", nil)
		def, err := svc.NewLimiter("", 600, WithMonitor(m))
		require.NoError(t, err)
		l, err := svc.NewLimiter("gpt-transcribe", 600, WithMonitor(m))
		require.NoError(t, err)
		tr := tpTransport(t, base, WithServiceLimiters(svc))

		transcribe(t, tpOpenAI(srv.URL, tr), audio)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, forms, 2)
		for i, f := range forms {
			assert.Equal(t, "gpt-transcribe", f.model, "attempt %d", i+1)
			assert.True(t, bytes.Equal(audio, f.file), "attempt %d: the server received the file byte for byte", i+1)
		}
		assert.NotZero(t, l.Stats().Issued)
		assert.Zero(t, def.Stats().Issued, "the default limiter issued nothing")
	})
}
