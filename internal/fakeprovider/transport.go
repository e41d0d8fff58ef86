package fakeprovider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Transport returns a [net/http.RoundTripper] that hands each request to
// the server's ServeHTTP in a new goroutine, with no socket involved, and
// streams the response back through a pipe so that flushed server-sent
// events reach the client as they are written. Because nothing leaves the
// process, it works inside a testing/synctest bubble; use it with
// &http.Client{Transport: s.Transport()}.
//
// Cancelling the request's context, or closing the response body, cancels
// the context the handler sees; cancelling the request's context also ends
// the response body, whose reads then fail with the context's error, as
// net/http's do. A request whose context is already done is not handed to
// the server at all, so it is neither counted nor charged.
func (s *Server) Transport() http.RoundTripper { return &transport{h: s} }

// transport is the RoundTripper returned by Server.Transport.
type transport struct{ h http.Handler }

// RoundTrip runs the handler and returns once it has written its headers.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	// As over a connection, a request whose context is already done is
	// never sent.
	if err := req.Context().Err(); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	in := req.Clone(ctx)
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:1"
	if in.Host == "" {
		in.Host = req.URL.Host
	}
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			if v := recover(); v != nil {
				rw.WriteHeader(http.StatusInternalServerError)
				pw.CloseWithError(fmt.Errorf("fakeprovider: handler panicked: %v", v))
			}
			rw.WriteHeader(http.StatusOK)
			_ = pw.Close()
			_ = in.Body.Close()
			cancel()
		}()
		t.h.ServeHTTP(rw, in)
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		_ = pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	// As over a connection, the request's end ends the body being read.
	stop := context.AfterFunc(req.Context(), func() { _ = pw.CloseWithError(req.Context().Err()) })
	res := &http.Response{
		Status:        fmt.Sprintf("%d %s", rw.status, http.StatusText(rw.status)),
		StatusCode:    rw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          &pipeBody{PipeReader: pr, cancel: cancel, stop: stop},
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(rw.sent.Get("Content-Length"), 10, 64); err == nil {
		res.ContentLength = n
	}
	return res, nil
}

// pipeWriter is the ResponseWriter the in-memory transport gives the
// handler. It is used by the handler goroutine only; the closing of ready
// publishes status and sent to RoundTrip.
type pipeWriter struct {
	header http.Header
	sent   http.Header // snapshot of header taken by WriteHeader
	status int
	body   *io.PipeWriter
	ready  chan struct{}
}

// Header returns the headers to be sent.
func (p *pipeWriter) Header() http.Header { return p.header }

// WriteHeader sends the status and headers; only the first call counts.
func (p *pipeWriter) WriteHeader(code int) {
	if p.sent != nil || code < 200 {
		return
	}
	p.status, p.sent = code, p.header.Clone()
	close(p.ready)
}

// Write sends body bytes, blocking until the client reads them.
func (p *pipeWriter) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return p.body.Write(b)
}

// Flush sends the headers if they were not sent yet; body bytes need no
// flushing since every Write goes straight to the reader.
func (p *pipeWriter) Flush() { p.WriteHeader(http.StatusOK) }

// pipeBody is the response body: closing it stops the handler.
type pipeBody struct {
	*io.PipeReader
	cancel context.CancelFunc
	stop   func() bool // stops ending the body with the request's context
}

// Close closes the pipe and cancels the handler's context.
func (b *pipeBody) Close() error {
	b.stop()
	b.cancel()
	return b.PipeReader.Close()
}
