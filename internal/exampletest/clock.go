package exampletest

import (
	"net/http"
	"sync/atomic"
	"time"
)

// VirtualClock is a fake endpoint's clock when its callers run in a
// synctest bubble: the endpoint runs outside the bubble, and reads the
// time at which the bubble last sent it a request, which a transport
// made by Stamped notes. The zero value is ready to use.
type VirtualClock struct{ ns atomic.Int64 }

// Now returns the time of the latest request sent through c.Stamped.
func (c *VirtualClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

// Stamped returns base noting on c the time each request is sent.
func (c *VirtualClock) Stamped(base http.RoundTripper) http.RoundTripper {
	return RoundTripFunc(func(r *http.Request) (*http.Response, error) {
		now := time.Now().UnixNano()
		for old := c.ns.Load(); old < now && !c.ns.CompareAndSwap(old, now); old = c.ns.Load() {
		}
		return base.RoundTrip(r)
	})
}

// RoundTripFunc is a function that is an http.RoundTripper.
type RoundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Gate returns base held at its door: each request waits to be sent until
// the test has read sent (the request reached the network, its ticket
// issued) and then sent a value on release.
func Gate(base http.RoundTripper) (rt http.RoundTripper, sent <-chan struct{}, release chan<- struct{}) {
	s, r := make(chan struct{}), make(chan struct{})
	return RoundTripFunc(func(req *http.Request) (*http.Response, error) {
		s <- struct{}{}
		<-r
		return base.RoundTrip(req)
	}), s, r
}
