package ratellmiter

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// maxErrorBody bounds how much of a rate-limit error body the transport
// reads to classify it. Providers send a few hundred bytes.
const maxErrorBody = 64 << 10

// statusOverloaded is Anthropic's "overloaded" status.
const statusOverloaded = 529

// mayBeRateLimit reports whether resp's status is one a rate limit is
// answered with: 429, 529, or 503 with a retry hint.
func mayBeRateLimit(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, statusOverloaded:
		return true
	case http.StatusServiceUnavailable:
		return resp.Header.Get("Retry-After") != "" || resp.Header.Get("Retry-After-Ms") != ""
	}
	return false
}

// inspect reads resp's error body (up to maxErrorBody), classifies the
// answer, and puts back a body that yields the same bytes. A nil body (a
// base RoundTripper may hand on an empty one so, as http.Client allows)
// becomes http.NoBody, which the retry loop can close.
func inspect(resp *http.Response) (signals.ErrorInfo, error) {
	orig := resp.Body
	if orig == nil || orig == http.NoBody {
		resp.Body = http.NoBody
		return signals.ParseErrorBody(resp.StatusCode, resp.Header, nil, time.Now()), nil
	}
	body, err := io.ReadAll(io.LimitReader(orig, maxErrorBody+1))
	if err != nil {
		_ = orig.Close()
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return signals.ErrorInfo{}, err
	}
	if len(body) > maxErrorBody {
		// Too long for an error: classify by status and headers only,
		// and keep the rest readable.
		resp.Body = &unreadErrorBody{Reader: io.MultiReader(bytes.NewReader(body), orig), orig: orig, head: body}
		return signals.ParseErrorBody(resp.StatusCode, resp.Header, nil, time.Now()), nil
	}
	_ = orig.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return signals.ParseErrorBody(resp.StatusCode, resp.Header, decoded(resp.Header, body), time.Now()), nil
}

// decoded returns an error body as the server wrote it before compressing
// it: a caller that asks for gzip itself (setting Accept-Encoding) gets the
// body still compressed. A body that does not decompress within
// maxErrorBody yields nil, to be classified by status and headers only.
func decoded(h http.Header, body []byte) []byte {
	if !isGzip(h) {
		return body
	}
	plain, _ := gunzip(body, maxErrorBody)
	return plain
}

// unreadErrorBody is the body inspect puts back for an error body too
// long to classify: head, the bytes it read, then the rest of orig, the
// server's body, unread.
type unreadErrorBody struct {
	io.Reader
	orig io.ReadCloser
	head []byte
}

// Close closes the server's body.
func (b *unreadErrorBody) Close() error { return b.orig.Close() }

// cutErrorBody closes the server's body of resp when inspect left it
// unread past its first bytes, and puts back a body of those bytes alone.
// A request that waits out a pause to be sent again must not hold the
// answer it will not use: its connection (HTTP/1.1), or its stream with up
// to a window of data buffered in the client (4 MiB over HTTP/2), would be
// held for as long. A retry refused during its wait hands resp on, cut
// so, its ContentLength (and Content-Length header, if any) that of the
// cut body, when the refusal is one the caller gets the answer for (the
// server's daily budget spent meanwhile, WithMaxWait run out, a signed
// request's time to be sent again over, see sigV4Window); refused because
// the limiter was closed or stopped, or the request's context ended, the
// request fails with that error, and resp is closed.
func cutErrorBody(resp *http.Response) {
	if b, ok := resp.Body.(*unreadErrorBody); ok {
		_ = b.orig.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b.head))
		resp.ContentLength = int64(len(b.head))
		if resp.Header.Get("Content-Length") != "" {
			resp.Header.Set("Content-Length", strconv.Itoa(len(b.head)))
		}
	}
}

// errReader fails every read with its error.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
