package ratellmiter

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closeCounter is a request body without GetBody that counts its Closes:
// io.Closer leaves a second Close undefined (a pooled body would be put
// back twice).
type closeCounter struct {
	r      io.Reader
	closes atomic.Int32
}

func (c *closeCounter) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *closeCounter) Close() error               { c.closes.Add(1); return nil }

// TestTransportClosesARefusedRequestBodyOnce sends, to a real server, a
// request whose body is larger than WithMaxBodyBytes and has no GetBody:
// the transport refuses it before sending it, and closes its body once.
func TestTransportClosesARefusedRequestBodyOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
	}))
	t.Cleanup(srv.Close)
	l := newLimiter(t, 600)
	tr := tpTransport(t, nil, WithLimiter(l), WithMaxBodyBytes(10))
	t.Cleanup(tr.CloseIdleConnections)

	body := &closeCounter{r: bytes.NewReader(make([]byte, 11))}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", body)
	require.NoError(t, err)
	require.Nil(t, req.GetBody)
	_, err = tr.Client().Do(req)
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Zero(t, calls.Load(), "nothing is sent")
	assert.EqualValues(t, 1, body.closes.Load(), "the body is closed exactly once")
	assert.Zero(t, l.Stats().Requested)
}
