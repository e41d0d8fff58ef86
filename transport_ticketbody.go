package ratellmiter

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// finishOnClose arranges for tk to be finished when resp's body has been
// read to its end or closed, or when ctx (the request's) ends, whichever
// comes first: once the request's context has ended, net/http gives up on
// the body, and a caller may drop it unclosed (anthropic-sdk-go does when
// its context ends as the answer's headers arrive), which must not hold
// the ticket for ever. The body of an upgraded connection (a 101 to a
// request that asked for it, see asksUpgrade), which outlives the context
// it was asked with, holds its ticket until it is closed. A tap, when given,
// reads the usage the body reports and corrects the ticket's token charge
// if the body was read to its end, or closed after the whole answer had
// passed (see usageTap.final).
//
// The body of an event stream is read, whether a tap reads it or not, for
// the error event a stream that answered 200 may end with (see
// newStreamFault): an overload or a rate limit it reports pauses the
// limiter when the body ends or is closed, as the refusal of a call would,
// before the ticket is finished as any other answer's; the call is not
// sent again, its answer having begun, and its SDK reports the error.
//
// A server error (5xx) says nothing about the limits: its ticket is
// abandoned rather than done, so that it neither ends a pause as a canary
// nor counts as admitted for learning.
func finishOnClose(ctx context.Context, resp *http.Response, tk *Ticket, tap *usageTap) *http.Response {
	serverError := resp.StatusCode >= 500
	if resp.Body == nil || resp.Body == http.NoBody {
		finishTicket(tk, serverError)
		return resp
	}
	if w, ok := resp.Body.(io.Writer); ok && asksUpgrade(resp.Request) {
		// A 101 Switching Protocols body is also the connection's writer.
		resp.Body = &ticketBodyWriter{ticketBody: ticketBody{rc: resp.Body, tk: tk}, w: w}
		return resp
	}
	b := &ticketBody{rc: resp.Body, tk: tk, tap: tap, abandon: serverError}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		b.fault = newStreamFault(resp)
	}
	if ctx.Done() != nil {
		// Set before the body reaches the caller, whose Read and Close
		// read it; the function, which may run at once, does not.
		b.stop = context.AfterFunc(ctx, func() { b.finish(false) })
	}
	resp.Body = b
	return resp
}

// asksUpgrade reports whether req asked to switch protocols (an Upgrade
// header, and Connection naming it), as a WebSocket's handshake does: a
// 101 to a request that did not ask is a server's or a proxy's fault,
// whose connection is no session of the caller's, and ends with the
// request's context as any answer does.
func asksUpgrade(req *http.Request) bool {
	if req == nil || req.Header.Get("Upgrade") == "" {
		return false
	}
	for _, v := range req.Header["Connection"] {
		for token := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "upgrade") {
				return true
			}
		}
	}
	return false
}

// finishTicket finishes tk: Abandon if the answer says nothing about the
// server's limits, else Done.
func finishTicket(tk *Ticket, abandon bool) {
	if abandon {
		tk.Abandon()
	} else {
		tk.Done()
	}
}

// ticketBody is a response body that finishes its ticket once.
type ticketBody struct {
	rc      io.ReadCloser
	tk      *Ticket
	tap     *usageTap // nil unless the ticket's token charge is to be corrected
	abandon bool      // finish with Abandon: the answer says nothing about the limits
	// stop, when set, stops the finishing of the ticket when the
	// request's context ends (see finishOnClose).
	stop func() bool
	done atomic.Bool
	// fault reads the body, an event stream, for the error event it may
	// end with (see newStreamFault); nil for any other body.
	fault streamFault
	// tapMu serializes the use of the tap and of the readers of faults:
	// Close may come from another goroutine while one reads, as
	// net/http allows.
	tapMu sync.Mutex
}

// streamFault reads an event stream passing by for the error event it
// may end with: signals.StreamError, signals.EventStreamError.
type streamFault interface {
	Write(p []byte) (int, error)
	Kind() signals.Kind
}

// newStreamFault returns the reader of the error event the body of resp,
// a successful answer, may end with: a server-sent event stream (see
// signals.StreamError), or Amazon Bedrock's AWS event stream (see
// signals.EventStreamError), sent without compression; nil for any other
// body, which so costs nothing more.
func newStreamFault(resp *http.Response) streamFault {
	ct, enc := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding")
	if enc != "" && !strings.EqualFold(strings.TrimSpace(enc), "identity") {
		return nil
	}
	mt, _, _ := strings.Cut(ct, ";")
	switch mt = strings.TrimSpace(mt); {
	case strings.EqualFold(mt, "text/event-stream"):
		return new(signals.StreamError)
	case strings.EqualFold(mt, "application/vnd.amazon.eventstream"):
		return new(signals.EventStreamError)
	}
	return nil
}

func (b *ticketBody) finish(atEOF bool) {
	if b.done.CompareAndSwap(false, true) {
		kind := signals.KindUnknown
		if b.tap != nil || b.fault != nil {
			b.tapMu.Lock()
			if b.tap != nil && b.tap.final(atEOF) {
				b.tap.reconcile(b.tk)
			}
			if b.fault != nil {
				kind = b.fault.Kind()
			}
			b.tapMu.Unlock()
		}
		switch kind {
		case signals.KindRateLimited, signals.KindOverloaded:
			b.tk.refusedInStream(kind == signals.KindOverloaded)
		}
		finishTicket(b.tk, b.abandon)
	}
}

// stopWatching stops the wait for the request's context to end, once the
// body has ended or been closed.
func (b *ticketBody) stopWatching() {
	if b.stop != nil {
		b.stop()
	}
}

// Read reads from the body and finishes the ticket at its end.
func (b *ticketBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if (b.tap != nil || b.fault != nil) && n > 0 && !b.done.Load() {
		b.tapMu.Lock()
		if !b.done.Load() {
			if b.tap != nil {
				b.tap.write(p[:n])
			}
			if b.fault != nil {
				_, _ = b.fault.Write(p[:n])
			}
		}
		b.tapMu.Unlock()
	}
	if err == io.EOF {
		b.finish(true)
		b.stopWatching()
	}
	return n, err
}

// Close closes the body and finishes the ticket.
func (b *ticketBody) Close() error {
	err := b.rc.Close()
	b.finish(false)
	b.stopWatching()
	return err
}

// ticketBodyWriter is a ticketBody whose body is also writable.
type ticketBodyWriter struct {
	ticketBody
	w io.Writer
}

// Write writes to the underlying connection.
func (b *ticketBodyWriter) Write(p []byte) (int, error) { return b.w.Write(p) }
