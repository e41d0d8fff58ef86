package ratellmiter

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uploadServer starts a real server on 127.0.0.1 that takes file uploads
// as OpenAI's /v1/files does (multipart/form-data) and keeps the bytes of
// the last file it received.
func uploadServer(t *testing.T) (*httptest.Server, func() []byte) {
	t.Helper()
	srv, received := formServer(t, `{"id":"file-1","object":"file","bytes":1,"created_at":1,"filename":"data.jsonl","purpose":"batch","status":"processed"}`)
	return srv, func() []byte { return received().file }
}

// receivedForm is what a form server keeps of the forms it received: the
// model field and the file of the last one, and how many came.
type receivedForm struct {
	model string
	file  []byte
	n     int
}

// formServer starts a real server on 127.0.0.1 that takes multipart forms
// holding a "file", as OpenAI's /v1/files and /v1/audio/transcriptions do,
// answers each with the JSON answer, and keeps what it received.
func formServer(t *testing.T, answer string) (*httptest.Server, func() receivedForm) {
	t.Helper()
	var (
		mu   sync.Mutex
		kept receivedForm
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		kept = receivedForm{model: r.FormValue("model"), file: got, n: kept.n + 1}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, func() receivedForm {
		mu.Lock()
		defer mu.Unlock()
		return kept
	}
}

// A file upload is no JSON: it names no model and costs no tokens, so the
// transport has no reason to read it, and one larger than WithMaxBodyBytes
// goes out whole through a transport that routes by model, as through any
// other. (It still takes the default limiter's ticket.)
func TestTransportUploadsAFileLargerThanMaxBodyBytesWithServiceLimiters(t *testing.T) {
	srv, received := uploadServer(t)
	svc, limiters := formService(t, "", "gpt-4o-mini")
	tr := tpTransport(t, nil, WithServiceLimiters(svc), WithMaxBodyBytes(1<<20))
	t.Cleanup(tr.CloseIdleConnections)
	file := make([]byte, 3<<20)
	_, _ = rand.Read(file)

	client := tpOpenAI(srv.URL, tr)
	_, err := client.Files.New(context.Background(), openai.FileNewParams{
		File:    openai.File(bytes.NewReader(file), "data.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch,
	})
	require.NoError(t, err)
	assert.True(t, bytes.Equal(file, received()), "the server received the file byte for byte")
	assertSettled(t, limiters[""], 1)
}

// Nor does a limiter with a token budget read an upload for an estimate it
// cannot hold: a multipart body with GetBody is sent as it is, without
// being read into memory first.
func TestTransportWithATokenBudgetDoesNotReadAnUpload(t *testing.T) {
	srv, received := uploadServer(t)
	l := newLimiter(t, 600, WithTokensPerMinute(60000))
	tr := tpTransport(t, nil, WithLimiter(l))
	t.Cleanup(tr.CloseIdleConnections)
	file := make([]byte, 1<<20)
	_, _ = rand.Read(file)
	var form bytes.Buffer
	body, contentType := multipartFile(t, &form, file)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/files", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	var getBodies atomic.Int32
	getBody := req.GetBody
	req.GetBody = func() (io.ReadCloser, error) { getBodies.Add(1); return getBody() }

	resp, err := tr.Client().Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, bytes.Equal(file, received()), "the server received the file byte for byte")
	assert.Zero(t, getBodies.Load(), "the upload was not read for a token estimate")
	assertSettled(t, l, 1)
}

// multipartFile writes a multipart/form-data body holding file as the
// "file" field to form, and returns it and its content type.
func multipartFile(t *testing.T, form *bytes.Buffer, file []byte) ([]byte, string) {
	t.Helper()
	w := multipart.NewWriter(form)
	part, err := w.CreateFormFile("file", "data.jsonl")
	require.NoError(t, err)
	_, err = part.Write(file)
	require.NoError(t, err)
	require.NoError(t, w.WriteField("purpose", "batch"))
	require.NoError(t, w.Close())
	return form.Bytes(), w.FormDataContentType()
}

// An upload is charged no estimate, but the usage its answer reports (a
// transcription's audio tokens) is charged, as every answer's is.
func TestTransportChargesTheUsageOfATranscription(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := r.FormFile("file"); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"hello","usage":{"type":"tokens","input_tokens":3000,"output_tokens":5,"total_tokens":3005}}`)
	}))
	t.Cleanup(srv.Close)
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600, WithTokensPerMinute(60000)) // banks 1,000
		client := tpOpenAI(srv.URL, tpTransport(t, base, WithLimiter(l)))
		_, err := client.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{
			File:  openai.File(bytes.NewReader(make([]byte, 4096)), "a.wav", "audio/wav"),
			Model: openai.AudioModelGPTTranscribe,
		})
		require.NoError(t, err)
		assertSettled(t, l, 1)
		time.Sleep(time.Second)
		_, ok := l.TryAcquire(WithTokens(900, 0))
		assert.False(t, ok, "the 3,005 tokens the answer reports were charged")
		time.Sleep(2 * time.Second)
		tk, ok := l.TryAcquire(WithTokens(900, 0))
		require.True(t, ok, "and only those")
		tk.Done()
	})
}
