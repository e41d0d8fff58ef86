package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
)

// maxFormModel is the longest "model" field of a form that names a model;
// a longer one names none.
const maxFormModel = 256

// formModel returns the first "model" field of req's body, a
// multipart/form-data form with the given boundary (an audio transcription
// or translation, say), or "" when it names no model, with the request to
// send in req's place. body is req's body when the transport has read it
// already (see prepare), else nil. An unread body is read from a copy
// GetBody gives, only as far as the model field and without keeping any
// of it (decompressed first when it is sent with Content-Encoding: gzip),
// and the returned request sends a fresh one. On an error req's body is
// left open, for RoundTrip to close.
func formModel(req *http.Request, boundary string, body []byte) (*http.Request, string, error) {
	switch {
	case body != nil:
		return req, scanFormModel(bytes.NewReader(body), boundary), nil
	case req.Body == nil || req.Body == http.NoBody || req.GetBody == nil:
		return req, "", nil
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, "", fmt.Errorf("ratellmiter: reading request body: %w", err)
	}
	var form io.Reader = rc
	if isGzip(req.Header) {
		// Read decompressed, as a compressed JSON body is.
		if zr, err := gzip.NewReader(rc); err == nil {
			form = zr
		}
	}
	model := scanFormModel(form, boundary)
	_ = rc.Close()
	out, err := withFreshBody(req)
	if err != nil {
		return nil, "", err
	}
	return out, model, nil
}

// scanFormModel reads a multipart form from r up to its first field named
// "model" that is no file, and returns that field's value, trimmed of
// spaces; "" when the form has none before it ends or turns malformed, or
// when the value is longer than maxFormModel.
func scanFormModel(r io.Reader, boundary string) string {
	mr := multipart.NewReader(r, boundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return ""
		}
		if p.FormName() != "model" || p.FileName() != "" {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFormModel+1))
		if err != nil || len(v) > maxFormModel {
			return ""
		}
		return strings.TrimSpace(string(v))
	}
}
