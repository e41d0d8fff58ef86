package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// maxFormModel is the longest "model" field of a form that names a model;
// a longer one names none.
const maxFormModel = 256

// formModel returns the first "model" field of req's body, a
// multipart/form-data form with the given boundary (an audio transcription
// or translation, say), or "" when it names no model, with the request to
// send in req's place (see readForm). body is req's body when the
// transport has read it already (see prepare), else nil.
func formModel(req *http.Request, boundary string, body []byte) (*http.Request, string, error) {
	var model string
	out, err := readForm(req, body, func(form io.Reader) { model = scanFormModel(form, boundary) })
	return out, model, err
}

// formAudioTokens returns the token estimate of req, an audio
// transcription or translation whose body is a multipart/form-data form
// with the given boundary: the input tokens of its "file" (see
// signals.AudioFileTokens), a bound where its playing time is unknown, and
// no output; nil when the form holds no file. It returns the request to
// send in req's place (see readForm). body is req's body when the
// transport has read it already (see prepare), else nil.
func formAudioTokens(req *http.Request, boundary string, body []byte) (*http.Request, AcquireOption, error) {
	var opt AcquireOption
	out, err := readForm(req, body, func(form io.Reader) {
		mr := multipart.NewReader(form, boundary)
		for {
			p, err := mr.NextPart()
			if err != nil {
				return
			}
			if p.FormName() == "file" && p.FileName() != "" {
				in, bound := signals.AudioFileTokens(p)
				in, bound = min(in, math.MaxInt32), min(bound, math.MaxInt32)
				opt = acquireOption(func(c *acquireConfig) error {
					c.in, c.out, c.bound = in, 0, bound
					return nil
				})
				return
			}
		}
	})
	return out, opt, err
}

// readForm calls scan with req's form body: body when the transport has
// read it already (see prepare), else a copy GetBody gives (decompressed
// first when it is sent with Content-Encoding: gzip), read as far as scan
// goes and not kept. It returns the request to send in req's place, which
// sends a fresh body when the copy was read. A request with no body, or
// none GetBody can give again, is not scanned. On an error req's body is
// left open, for RoundTrip to close.
func readForm(req *http.Request, body []byte, scan func(form io.Reader)) (*http.Request, error) {
	switch {
	case body != nil:
		scan(bytes.NewReader(body))
		return req, nil
	case req.Body == nil || req.Body == http.NoBody || req.GetBody == nil:
		return req, nil
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("ratellmiter: reading request body: %w", err)
	}
	var form io.Reader = rc
	if isGzip(req.Header) {
		// Read decompressed, as a compressed JSON body is.
		if zr, err := gzip.NewReader(rc); err == nil {
			form = zr
		}
	}
	scan(form)
	_ = rc.Close()
	return withFreshBody(req)
}

// transcribes reports whether req asks for an audio transcription or
// translation (OpenAI's /v1/audio/transcriptions and /translations),
// whose form holds the audio file.
func transcribes(req *http.Request) bool {
	if req.URL == nil {
		return false
	}
	p := strings.TrimSuffix(req.URL.Path, "/")
	return strings.HasSuffix(p, "/audio/transcriptions") || strings.HasSuffix(p, "/audio/translations")
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
