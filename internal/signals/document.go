package signals

import (
	"bytes"
	"io"
	"math"
)

// The tokens of a PDF document in a request: its pages times what its
// provider charges a page.
//
// The pages of an inline PDF (Anthropic's base64 document source, an
// OpenAI file's data: URL, Gemini's inlineData of type application/pdf)
// are counted as its page objects: its base64 is decoded as it streams
// through a buffer of pdfChunk bytes, never whole, and each name /Type
// followed by the name /Page (PDF white space between them allowed, and
// /Pages not counting) is a page. A PDF that stores its page objects in
// compressed object streams, as many recent writers do, shows none: its
// pages are then estimated from its size, one for each pdfPageBytes
// (50 KiB) begun, at least one. A document given by reference (a URL, a
// file id) is charged one page, an estimate. What a page costs, below, is
// the most its provider gives for one, so a document's tokens are a
// bound, not a count (see Request.DocumentTokens).
//
//   - Anthropic (the PDF support guide): a page costs 1,500 to 3,000
//     tokens, its text and an image of it; it is charged the top of that
//     range, 3,000.
//   - OpenAI (the file inputs guide): the model is given both the text
//     extracted from each page and an image of the page. A page is charged
//     the named model's tokens for an image of a US Letter page at 200 dpi
//     (1700x2200 px, as that model counts an image at detail other than
//     low: 765 on gpt-4o; its base alone, 85, when the Responses part's
//     detail is "low") plus 800 tokens of text. The Responses API takes
//     other files too (text, code, office documents, spreadsheets), of
//     which the model is given the text alone: an inline file that is no
//     PDF (no "%PDF-" in its first KiB) is charged its bytes at four a
//     token, a bound (see openAIFileCharge).
//   - Gemini (the document understanding and media resolution guides):
//     Gemini 3 models count 560 tokens a page at their default media
//     resolution for PDFs, Gemini 2 models 258; a model of unknown
//     generation is charged 560 (see geminimedia.go).

const (
	anthropicPageTokens = 3000
	// openAIPageText is the tokens of a page's text that OpenAI is
	// charged besides the page's image.
	openAIPageText = 800
	// openAIPageWidth and openAIPageHeight are the pixels of the image
	// of a page: US Letter at 200 dpi.
	openAIPageWidth, openAIPageHeight = 1700, 2200

	// pdfPageBytes is the size of a PDF that counts as one page when its
	// pages cannot be counted.
	pdfPageBytes = 50 << 10
	// pdfChunk is the size of the buffer a PDF is decoded into.
	pdfChunk = 512
)

// documentPart holds the members of an object (valid JSON values, nil
// when absent) that tell a PDF document content part, besides those of
// imagePart that tell one too (its type, an Anthropic source, Gemini's
// blobs, and the Responses API's file_data, which shares its name with
// Gemini's snake-case fileData).
type documentPart struct {
	file []byte // an OpenAI chat file part's "file"
	// fileID and fileURL are a Responses input_file's "file_id" and
	// "file_url".
	fileID, fileURL []byte
}

// documentTokens returns the charge of the PDF document the object is, or
// none: an Anthropic block {"type":"document","source":{...}} whose
// source's type is "base64" (inline), "url" or "file"; an OpenAI chat
// part {"type":"file","file":{"file_data":...}} or Responses part
// {"type":"input_file","file_data":...} (inline when its file_data is a
// base64 data: URL; a file id or URL instead is not); or a Gemini part
// whose inlineData (inline_data) or, failing that, fileData (file_data)
// has the MIME type "application/pdf", in any case, by g.
func (p *imagePart) documentTokens(model string, g geminiMedia, d documentPart) imageCharge {
	if isString(p.typ) {
		switch {
		case keyIs(p.typ, "document"):
			typ, b64 := anthropicSource(p.source)
			switch {
			case !isString(typ):
				return imageCharge{}
			case keyIs(typ, "base64"):
				return pdfCharge(anthropicPageTokens, b64)
			case keyIs(typ, "url"):
				return guessed(pdfCharge(anthropicPageTokens, nil), member(p.source, "url"))
			case keyIs(typ, "file"):
				return guessed(pdfCharge(anthropicPageTokens, nil), member(p.source, "file_id"))
			}
			return imageCharge{}
		case keyIs(p.typ, "file"):
			var data, id []byte
			if isObject(d.file) {
				data, id = member(d.file, "file_data"), member(d.file, "file_id")
			}
			return openAIDocumentTokens(model, data, id, false)
		case keyIs(p.typ, "input_file"):
			low := isString(p.detail) && keyIs(p.detail, "low")
			return openAIDocumentTokens(model, p.fileDataSnake, firstPresent(d.fileID, d.fileURL), low)
		}
	}
	if b64, ok := p.geminiPart(isPDFMIME); ok {
		c := pdfCharge(g.page(p.level()), b64)
		if b64 == nil {
			c = guessed(c, p.geminiFileURI())
		}
		return c
	}
	return imageCharge{}
}

// guessed returns c, the charge of a file given by reference, marked as a
// guess made for ref (a JSON value; a string names the file).
func guessed(c imageCharge, ref []byte) imageCharge {
	if isString(ref) {
		c.ref = ref
	}
	return c
}

// openAIDocumentTokens returns the charge of an OpenAI file whose
// file_data is data and whose reference (a file id or URL) is ref (JSON
// values, nil when absent), for model, its pages' images at detail low
// or not.
func openAIDocumentTokens(model string, data, ref []byte, low bool) imageCharge {
	perPage := openAIPageTokens(model, low)
	if isString(data) {
		if b64 := dataURLBase64(data[1 : len(data)-1]); b64 != nil {
			return openAIFileCharge(perPage, b64)
		}
	}
	c := pdfCharge(perPage, nil)
	if data == nil {
		c = guessed(c, ref)
	}
	return c
}

// openAIFileCharge returns the charge of an inline OpenAI file, whose
// base64 is s: a PDF (one with "%PDF-" in its first pdfHeaderBytes) by
// its pages at perPage, any other file by its bytes at four a token, a
// bound: OpenAI gives the model its text alone, which a text or code file
// holds one for one, and an office document or a spreadsheet (zipped, or
// cut at a thousand rows) rarely holds more of.
func openAIFileCharge(perPage int64, s []byte) imageCharge {
	var head [pdfHeaderBytes]byte
	r := base64Reader{s: s, left: math.MaxInt}
	n, _ := io.ReadFull(&r, head[:])
	if bytes.Contains(head[:n], []byte("%PDF-")) {
		return pdfCharge(perPage, s)
	}
	size := int64(n) + r.discard(math.MaxInt64)
	return imageCharge{tokens: ceilDiv(size, 4), bound: true}
}

// pdfHeaderBytes is how far into a file its PDF header may be.
const pdfHeaderBytes = 1024

// openAIPageTokens returns what model is charged for a page of a PDF: the
// tokens of an image of the page, at detail low or not, and of its text.
func openAIPageTokens(model string, low bool) int64 {
	return imageTokens(openAIImageRule(model, low), openAIPageWidth, openAIPageHeight, true) + openAIPageText
}

// isPDFMIME reports whether a JSON value is the string
// "application/pdf", in any case.
func isPDFMIME(v []byte) bool {
	return isString(v) && bytes.EqualFold(keyName(v), []byte("application/pdf"))
}

// pdfCharge returns the charge of a PDF at perPage tokens a page whose
// base64 is s, the contents of a JSON string as the body has them; s is
// nil when the PDF is not inline, which counts one page.
func pdfCharge(perPage int64, s []byte) imageCharge {
	if s == nil {
		return imageCharge{tokens: perPage}
	}
	pages, _ := pdfPages(s)
	return imageCharge{tokens: satMul(pages, perPage)}
}

// pdfPages returns the pages of the PDF whose base64 is s, the contents
// of a JSON string as the body has them, and whether they were counted
// rather than estimated from its size.
func pdfPages(s []byte) (pages int64, counted bool) {
	var (
		buf  [pdfChunk]byte
		m    pageMatcher
		size int64
	)
	r := base64Reader{s: s, left: math.MaxInt}
	for {
		n, err := r.Read(buf[:])
		size += int64(n)
		for chunk := buf[:n]; len(chunk) > 0; chunk = chunk[1:] {
			if m.state == pageNone {
				// Only a '/' starts a page object.
				i := bytes.IndexByte(chunk, '/')
				if i < 0 {
					break
				}
				chunk = chunk[i:]
			}
			m.next(chunk[0])
		}
		if err != nil || n < len(buf) {
			break
		}
	}
	if pages = m.end(); pages > 0 {
		return pages, true
	}
	return max(1, ceilDiv(size, pdfPageBytes)), false
}

// pageMatcher counts the page objects of a PDF given a byte at a time:
// the name /Type, then any PDF white space, then the name /Page, which the
// next byte, when there is one, must end (as white space or a delimiter
// does: /Pages is another name).
type pageMatcher struct {
	state pageState
	pages int64
}

// pageState is how much of a page object's "/Type /Page" the last bytes
// given hold.
type pageState uint8

const (
	pageNone  pageState = iota
	pageType1           // "/"
	pageType2           // "/T"
	pageType3           // "/Ty"
	pageType4           // "/Typ"
	pageType5           // "/Type", and any white space after it
	pagePage1           // "/Type /"
	pagePage2           // "/Type /P"
	pagePage3           // "/Type /Pa"
	pagePage4           // "/Type /Pag"
	pagePage5           // "/Type /Page"
)

// next takes in the next byte of the PDF.
func (m *pageMatcher) next(c byte) {
	switch s := m.state; {
	case s >= pageType1 && s <= pageType4:
		if c == "/Type"[s] {
			m.state++
			return
		}
	case s == pageType5:
		switch {
		case isPDFSpace(c):
			return
		case c == '/':
			m.state = pagePage1
			return
		}
	case s == pagePage1:
		switch c {
		case 'P':
			m.state = pagePage2
			return
		case 'T': // the '/' may start another /Type
			m.state = pageType2
			return
		}
	case s >= pagePage2 && s <= pagePage4:
		if c == "/Page"[s-pagePage1+1] {
			m.state++
			return
		}
	case s == pagePage5:
		if !isPDFRegular(c) {
			m.pages = satAdd(m.pages, 1)
		}
	}
	// No match goes on through c; c may start the next.
	m.state = pageNone
	if c == '/' {
		m.state = pageType1
	}
}

// end returns the pages counted once the PDF has ended.
func (m *pageMatcher) end() int64 {
	if m.state == pagePage5 {
		m.pages, m.state = satAdd(m.pages, 1), pageNone
	}
	return m.pages
}

// isPDFSpace reports whether c is PDF white space: NUL, tab, line feed,
// form feed, carriage return or space.
func isPDFSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

// isPDFRegular reports whether c is a regular character of PDF, neither
// white space nor a delimiter, so that it goes on a name.
func isPDFRegular(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return false
	}
	return !isPDFSpace(c)
}
