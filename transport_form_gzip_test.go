package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A form sent with Content-Encoding: gzip names its model as the same
// form plain does, whether or not the request has GetBody: it is routed to
// its model's limiter, not refused for want of a default one.
func TestTransportRoutesACompressedFormByItsModel(t *testing.T) {
	var (
		mu     sync.Mutex
		models []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		form, err := multipart.NewReader(zr, params["boundary"]).ReadForm(1 << 20)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		models = append(models, form.Value["model"]...)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"text":"hello"}`)
	}))
	t.Cleanup(srv.Close)
	audio := make([]byte, 64<<10)
	_, _ = rand.Read(audio)
	form, contentType := transcriptionForm(t, audio, "gpt-transcribe", false)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, err := zw.Write(form)
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	for name, body := range map[string]func() io.Reader{
		"with GetBody":    func() io.Reader { return bytes.NewReader(zb.Bytes()) },
		"without GetBody": func() io.Reader { return onlyReader{bytes.NewReader(zb.Bytes())} },
	} {
		t.Run(name, func(t *testing.T) {
			svc, limiters := formService(t, "gpt-transcribe")
			tr := tpTransport(t, nil, WithServiceLimiters(svc))
			t.Cleanup(tr.CloseIdleConnections)
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/audio/transcriptions", body())
			require.NoError(t, err)
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := tr.Client().Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assertSettled(t, limiters["gpt-transcribe"], 1)
		})
	}
}
