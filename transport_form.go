package ratellmiter

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// maxFormModel is the longest "model" field of a form that names a model;
// a longer one names none.
const maxFormModel = 256

// formFields is what a multipart/form-data form tells the transport: its
// first "model" field that is no file ("" when it names no model), and
// the token estimate of its "file" (nil when it holds none), when it was
// read for it (fileRead).
type formFields struct {
	model    string
	audio    AcquireOption
	fileRead bool
}

// readFormFields returns what req's body, a multipart/form-data form with
// the given boundary (an audio transcription or translation, say), tells:
// its model when wantModel, the estimate of its file when wantFile (see
// scanForm), both read in one pass; with the request to send in req's
// place (see readForm). body is req's body when the transport has read it
// already (see prepare), else nil.
func readFormFields(req *http.Request, boundary string, body []byte, wantModel, wantFile bool) (*http.Request, formFields, error) {
	var f formFields
	out, err := readForm(req, body, func(form io.Reader) { f = scanForm(form, boundary, wantModel, wantFile) })
	return out, f, err
}

// scanForm reads a multipart form from r as far as it must to find its
// first field named "model" that is no file (when wantModel), trimmed of
// spaces ("" when it is longer than maxFormModel), and its first file
// named "file" (when wantFile), whose estimate is the input tokens of its
// audio (see signals.AudioFileTokens), a bound where its playing time is
// unknown, and no output. A form that ends or turns malformed first gives
// what was found before.
func scanForm(r io.Reader, boundary string, wantModel, wantFile bool) formFields {
	f := formFields{fileRead: wantFile}
	mr := multipart.NewReader(r, boundary)
	for wantModel || wantFile {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		switch {
		case wantModel && p.FormName() == "model" && p.FileName() == "":
			wantModel = false
			if v, err := io.ReadAll(io.LimitReader(p, maxFormModel+1)); err == nil && len(v) <= maxFormModel {
				f.model = strings.TrimSpace(string(v))
			}
		case wantFile && p.FormName() == "file" && p.FileName() != "":
			wantFile = false
			in, bound := signals.AudioFileTokens(p)
			f.audio = tokenCharge(in, 0, bound, 0)
		}
	}
	return f
}

// scanFormModel returns the model scanForm finds in the form r gives.
func scanFormModel(r io.Reader, boundary string) string {
	return scanForm(r, boundary, true, false).model
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
