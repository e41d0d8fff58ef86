package exampletest

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ratellmiter/ratellmiter"
)

// NewMonitor returns a Monitor stopped with the test.
func NewMonitor(t testing.TB) *ratellmiter.Monitor {
	m := ratellmiter.NewMonitor()
	t.Cleanup(func() { _ = m.Stop() })
	return m
}

// NewTransport returns a transport over base with opts, failing the test
// if the options are refused.
func NewTransport(t testing.TB, base http.RoundTripper, opts ...ratellmiter.TransportOption) *ratellmiter.Transport {
	t.Helper()
	tr, err := ratellmiter.NewTransport(base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// NoKeepAlive returns a transport that closes every connection after its
// answer, and its idle ones with the test, so that no goroutine reading an
// idle connection keeps a synctest bubble's virtual time from advancing.
// Given a TLS server, it trusts the server's certificate and speaks
// HTTP/1.1 only: an HTTP/2 connection's reader can outlive its request.
// Given nil, or a server without TLS, it is a plain transport.
func NoKeepAlive(t testing.TB, srv *httptest.Server) *http.Transport {
	tr := &http.Transport{}
	if srv != nil && srv.TLS != nil {
		tr = srv.Client().Transport.(*http.Transport).Clone()
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetHTTP1(true)
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	tr.DisableKeepAlives = true
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}
