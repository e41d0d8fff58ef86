package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strings"
)

// prepare returns the request to send first and, when the transport must
// know it (need), the body. When req has no GetBody, its body is read (up
// to the bound) and the returned request is a copy that can be replayed.
// When the body is read through GetBody, the returned request is a copy
// that sends a body GetBody gives afresh (see withFreshBody). Otherwise,
// and for a body that streams (see streamsBody), which is never read, the
// returned request is req itself. On an error req's body is left
// open, for RoundTrip to close.
func (t *Transport) prepare(req *http.Request, need bool) (*http.Request, []byte, error) {
	if req.Body == nil || req.Body == http.NoBody || streamsBody(req) {
		return req, nil, nil
	}
	if req.GetBody != nil {
		if !need {
			return req, nil, nil
		}
		rc, err := req.GetBody()
		if err != nil {
			return nil, nil, fmt.Errorf("ratellmiter: reading request body: %w", err)
		}
		body, err := t.readBody(rc, req.ContentLength)
		_ = rc.Close()
		if err != nil {
			if t.service != nil || !errors.Is(err, ErrBodyTooLarge) {
				return nil, nil, err
			}
			// Only the token estimate wanted it (a file upload, say):
			// the request goes out without one.
			body = nil
		}
		out, err := withFreshBody(req)
		if err != nil {
			return nil, nil, err
		}
		return out, body, nil
	}
	// The body may come from a writer that is slow or never ends (an
	// io.Pipe): closing it when the request's context ends stops the
	// read, as net/http stops sending it.
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { _ = req.Body.Close() })
	body, err := t.readBody(req.Body, req.ContentLength)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("ratellmiter: reading request body: %w", ctx.Err())
		}
		return nil, nil, err // RoundTrip closes req's body
	}
	_ = req.Body.Close()
	out := req.Clone(req.Context())
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.Body, _ = out.GetBody()
	return out, body, nil
}

// withFreshBody returns a copy of req that sends a body GetBody gives
// afresh, and closes req's: the SDKs' GetBody, for a body given as a
// *bytes.Reader, rewinds that reader and hands it back rather than a copy,
// so that reading it leaves req.Body at its end. On an error req's body is
// left open.
func withFreshBody(req *http.Request) (*http.Request, error) {
	fresh, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("ratellmiter: reading request body: %w", err)
	}
	_ = req.Body.Close()
	out := req.Clone(req.Context())
	out.Body = fresh
	return out, nil
}

// readBody reads a request body, failing beyond t.maxBody bytes. size is
// its length when known (the request's ContentLength), to read it into one
// buffer of that length instead of growing one as it comes.
func (t *Transport) readBody(r io.Reader, size int64) ([]byte, error) {
	// One byte more than the bound tells a body over it; math.MaxInt64
	// (no bound) must not wrap to a negative limit, which reads nothing.
	lr := io.LimitReader(r, t.maxBody+min(1, math.MaxInt64-t.maxBody))
	var body []byte
	var err error
	if size > 0 && size <= t.maxBody && size < math.MaxInt-bytes.MinRead {
		// bytes.Buffer reads on while it has MinRead bytes free, so
		// that much more lets it see the end without growing.
		buf := bytes.NewBuffer(make([]byte, 0, int(size)+bytes.MinRead))
		_, err = buf.ReadFrom(lr)
		body = buf.Bytes()
	} else {
		body, err = io.ReadAll(lr)
	}
	if err != nil {
		return nil, fmt.Errorf("ratellmiter: reading request body: %w", err)
	}
	if int64(len(body)) > t.maxBody {
		return nil, fmt.Errorf("%w: more than %d bytes (see WithMaxBodyBytes)", ErrBodyTooLarge, t.maxBody)
	}
	return body, nil
}

// replay returns a fresh copy of the request last sent, out, with a new
// body, for a retry. req is the caller's request.
func (t *Transport) replay(req, out *http.Request) (*http.Request, error) {
	next := out.Clone(req.Context())
	if out.Body == nil || out.Body == http.NoBody {
		return next, nil
	}
	if out.GetBody == nil {
		return nil, errors.New("ratellmiter: request body cannot be replayed")
	}
	body, err := out.GetBody()
	if err != nil {
		return nil, err
	}
	next.Body = body
	return next, nil
}

// isGzip reports whether h says its body is compressed with gzip.
func isGzip(h http.Header) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get("Content-Encoding")), "gzip")
}

// gunzip returns body decompressed, or nil when it is not valid gzip or
// decompresses to more than limit bytes, which tooLarge then reports.
func gunzip(body []byte, limit int) (plain []byte, tooLarge bool) {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	plain, err = io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if len(plain) > limit {
		return nil, true
	}
	if err != nil {
		return nil, false
	}
	return plain, false
}

// bodyType reads req's Content-Type once: isJSON reports whether its body
// may be JSON, and so name a model or cost tokens (the type is
// application/json, one ending in "+json", or unset; a multipart upload, a
// file or a form is not), and boundary is the boundary of a
// multipart/form-data body, else "".
func bodyType(req *http.Request) (isJSON bool, boundary string) {
	ct := req.Header.Get("Content-Type")
	if ct == "" {
		return true, ""
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return true, ""
	}
	if mt == "multipart/form-data" {
		return false, params["boundary"]
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json"), ""
}

// closeBody closes a request's body, as a RoundTripper must even when it
// fails.
func closeBody(req *http.Request) {
	if req != nil && req.Body != nil {
		_ = req.Body.Close()
	}
}
