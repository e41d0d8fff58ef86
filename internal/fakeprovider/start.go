package fakeprovider

import (
	"net"
	"net/http/httptest"
)

// Start creates a server for cfg and serves it over HTTP on a free port of
// 127.0.0.1. It returns the server, its base URL (such as
// "http://127.0.0.1:40123", without a trailing slash; OpenAI clients want
// baseURL+"/v1/", Anthropic clients the base URL itself) and a function that
// stops it, waiting for requests in flight.
func Start(cfg Config) (s *Server, baseURL string, stop func(), err error) {
	s, err = New(cfg)
	if err != nil {
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", nil, err
	}
	hs := httptest.NewUnstartedServer(s)
	_ = hs.Listener.Close()
	hs.Listener = ln
	hs.Start()
	return s, hs.URL, hs.Close, nil
}
