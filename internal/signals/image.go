package signals

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"strings"
)

// The tokens of an image in a request, by each provider's documented rule.
// The size of an inline image (a base64 data: URL, Anthropic's base64
// source, Gemini's inlineData) is read from the header at the start of its
// data: at most the first maxImageBase64 characters of its base64 are
// decoded, PNG, JPEG and GIF headers are read by the standard library's
// DecodeConfig and WebP's by hand. An image whose size is not known (a
// URL, a file id, an unreadable header) is charged the most its provider's
// rule charges one image, so that the estimate errs on the side of caution.
//
//   - OpenAI (the images and vision guide's "calculating costs"), by the
//     model the body names. Most models count tiles: detail "low" costs
//     the model's base; "high", "auto" or none is scaled to fit in
//     2048x2048, then down so that its shortest side is at most 768 px,
//     and costs the base plus the tile cost for each 512 px tile that
//     covers it, at most 8 tiles, which an image of unknown size is
//     charged. The base and tile costs are 85 and 170 (gpt-4o, gpt-4.1,
//     gpt-4.5, and any model not named below), 2,833 and 5,667 (gpt-4o-mini),
//     70 and 140 (gpt-5), 75 and 150 (o1, o3), 65 and 129
//     (computer-use-preview). gpt-4.1-mini, gpt-4.1-nano, gpt-5-mini,
//     gpt-5-nano and o4-mini count 32 px patches instead, whatever the
//     detail: the patches that cover the image, at most 1,536 (larger
//     images are scaled down to that), times 1.62, 2.46, 1.62, 2.46 and
//     1.72; an image of unknown size is charged 1,536 patches.
//   - Anthropic (the vision guide's image costs): an image whose long edge
//     is over 1568 px is scaled down to it, and costs width*height/750
//     tokens, at most about 1,600 (larger images are scaled down to that),
//     which an image of unknown size is charged.
//   - Gemini (the token guide's image tokens): 258 tokens for an image of
//     at most 384 px a side, else 258 for each 768x768 tile, once scaled to
//     fit in 3072x3072 (Vertex AI's image understanding guide), as Gemini 2
//     models count, 16 tiles (4,128 tokens) for an image of unknown size;
//     Gemini 3 models count 1,120 by default (media resolution high)
//     whatever the size. The media resolution the request asks for changes
//     both, and a model of unknown generation is charged the more of the
//     two (see geminimedia.go).
//
// The rules count images in the pixels the provider sees, not in the bytes
// of their encoding. PDF documents are counted by their pages (see
// document.go), audio and video by their playing time (see
// mediatokens.go).

// imageRule is a provider's rule for the tokens of an image.
type imageRule struct {
	kind       imageKind
	base, tile int64   // openAITiles: base, plus tile for each 512 px tile
	perPatch   float64 // openAIPatches: tokens for each 32 px patch
	low        bool    // openAITiles: detail low, the base alone
	// geminiTiles: the request's model and media resolution, and the
	// part's own.
	gemini geminiMedia
	part   mediaLevel
}

// imageKind is the way a rule counts an image.
type imageKind uint8

const (
	openAITiles imageKind = iota
	openAIPatches
	anthropicArea
	geminiTiles
)

var (
	imageOpenAI    = imageRule{kind: openAITiles, base: 85, tile: 170}
	imageOpenAILow = imageRule{kind: openAITiles, base: 85, tile: 170, low: true}
	imageAnthropic = imageRule{kind: anthropicArea}
	imageGemini    = imageRule{kind: geminiTiles} // for a model of unknown generation
)

// openAIModelImages are the rules of the OpenAI models that do not count
// images as gpt-4o does, by the start of their names; a name that starts
// another comes after it.
var openAIModelImages = [...]struct {
	prefix string
	rule   imageRule
}{
	{"gpt-4o-mini", imageRule{kind: openAITiles, base: 2833, tile: 5667}},
	{"gpt-4.1-mini", imageRule{kind: openAIPatches, perPatch: 1.62}},
	{"gpt-4.1-nano", imageRule{kind: openAIPatches, perPatch: 2.46}},
	{"gpt-5-mini", imageRule{kind: openAIPatches, perPatch: 1.62}},
	{"gpt-5-nano", imageRule{kind: openAIPatches, perPatch: 2.46}},
	{"o4-mini", imageRule{kind: openAIPatches, perPatch: 1.72}},
	{"gpt-5", imageRule{kind: openAITiles, base: 70, tile: 140}},
	{"o1", imageRule{kind: openAITiles, base: 75, tile: 150}},
	{"o3", imageRule{kind: openAITiles, base: 75, tile: 150}},
	{"computer-use-preview", imageRule{kind: openAITiles, base: 65, tile: 129}},
}

// openAIImageRule returns the rule by which model counts an image at
// detail low or not. A name a router gives under its vendor
// ("openai/gpt-4o-mini") is read after its last slash.
func openAIImageRule(model string, low bool) imageRule {
	model = model[strings.LastIndexByte(model, '/')+1:]
	rule := imageOpenAI
	for _, m := range openAIModelImages {
		if strings.HasPrefix(model, m.prefix) {
			rule = m.rule
			break
		}
	}
	rule.low = low && rule.kind == openAITiles
	return rule
}

// maxImagePatches is the most 32 px patches an OpenAI model that counts
// patches counts for an image.
const maxImagePatches = 1536

const (
	// maxImageBase64 is how many characters of an image's base64 are
	// decoded, at most, to find its size.
	maxImageBase64 = 64 << 10
	// imageHeadLen is how many decoded bytes tell the image's format
	// (and hold a WebP's size).
	imageHeadLen = 32
	// maxDataURLHeader bounds the header of a data: URL, before its
	// comma.
	maxDataURLHeader = 256

	anthropicImageMax = 1600
)

// imageTokens returns the tokens of one image under rule, of w by h
// pixels when known. The result is at most a few thousand.
func imageTokens(rule imageRule, w, h int, known bool) int64 {
	known = known && w > 0 && h > 0
	W, H := int64(w), int64(h)
	switch rule.kind {
	case openAITiles:
		switch {
		case rule.low:
			return rule.base
		case !known:
			return rule.base + 8*rule.tile
		}
		W, H = fitIn(W, H, 2048)
		if s := min(W, H); s > 768 {
			W, H = max(W*768/s, 1), max(H*768/s, 1)
		}
		return rule.base + rule.tile*ceilDiv(W, 512)*ceilDiv(H, 512)
	case openAIPatches:
		patches := int64(maxImagePatches)
		if known {
			// Each side's count is at most 2^26, so their product
			// cannot overflow.
			patches = min(ceilDiv(W, 32)*ceilDiv(H, 32), maxImagePatches)
		}
		return int64(math.Ceil(float64(patches) * rule.perPatch))
	case anthropicArea:
		if !known {
			return anthropicImageMax
		}
		W, H = fitIn(W, H, 1568)
		return min(ceilDiv(W*H, 750), anthropicImageMax)
	default: // geminiTiles
		return rule.gemini.image(rule.part, W, H, known)
	}
}

// fitIn scales w by h pixels down, keeping the aspect ratio, to fit in a
// square of side pixels.
func fitIn(w, h, side int64) (int64, int64) {
	switch {
	case w <= side && h <= side:
	case w >= h:
		w, h = side, max(h*side/w, 1)
	default:
		w, h = max(w*side/h, 1), side
	}
	return w, h
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte("\xff\xd8")
)

// imageSize reads the width and height of an image from its header: head
// is its first bytes (up to imageHeadLen), which tell its format, and r
// reads it from its start. It reports false for a format it does not know
// or a header it cannot read.
func imageSize(head []byte, r io.Reader) (w, h int, ok bool) {
	defer func() {
		if recover() != nil { // a decoder's bug must not fail the request
			w, h, ok = 0, 0, false
		}
	}()
	var (
		c   image.Config
		err error
	)
	switch {
	case bytes.HasPrefix(head, pngMagic):
		if len(head) < 16 || string(head[12:16]) != "IHDR" {
			return 0, 0, false // the first chunk must be IHDR
		}
		c, err = png.DecodeConfig(r)
	case bytes.HasPrefix(head, jpegMagic):
		c, err = jpeg.DecodeConfig(r)
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		c, err = gif.DecodeConfig(r)
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return webpSize(head)
	default:
		return 0, 0, false
	}
	if err != nil || c.Width <= 0 || c.Height <= 0 {
		return 0, 0, false
	}
	return c.Width, c.Height, true
}

// webpSize reads the size of a WebP image from its first 30 bytes: the
// canvas of an extended (VP8X) file, or the frame of a lossless (VP8L) or
// lossy (VP8) one.
func webpSize(b []byte) (int, int, bool) {
	if len(b) < 30 {
		return 0, 0, false
	}
	le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	switch string(b[12:16]) {
	case "VP8X":
		return le24(b[24:27]) + 1, le24(b[27:30]) + 1, true
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, false
		}
		bits := binary.LittleEndian.Uint32(b[21:25])
		return int(bits&0x3fff) + 1, int(bits>>14&0x3fff) + 1, true
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, false
		}
		w := int(binary.LittleEndian.Uint16(b[26:28]) & 0x3fff)
		h := int(binary.LittleEndian.Uint16(b[28:30]) & 0x3fff)
		return w, h, w > 0 && h > 0
	}
	return 0, 0, false
}

// imageCharge is what one image is charged: its tokens, and whether they
// are a bound rather than a count, the most its rule charges an image
// whose size is not known.
type imageCharge struct {
	tokens int64
	bound  bool
	// ref is the reference (a JSON string: a URI, a file id) of a file
	// whose charge is a guess, made without knowing the file: a PDF
	// charged one page, audio or video charged a minute; nil for any
	// other charge.
	ref []byte
}

// chargeOf returns the charge of one image under rule, of w by h pixels
// when known: a count when the rule does not depend on the size (OpenAI's
// detail "low") or the size is known, else a bound.
func chargeOf(rule imageRule, w, h int, known bool) imageCharge {
	return imageCharge{tokens: imageTokens(rule, w, h, known), bound: !rule.low && !(known && w > 0 && h > 0)}
}

// inlineImageTokens returns the charge of an image under rule whose
// base64 is at the start of s, the contents of a JSON string as the body
// has them (escapes and all); s is nil when the image is not inline.
func inlineImageTokens(rule imageRule, s []byte) imageCharge {
	if s == nil || rule.low {
		return chargeOf(rule, 0, 0, false)
	}
	var head [imageHeadLen]byte
	first := base64Reader{s: s, left: maxImageBase64}
	n, _ := io.ReadFull(&first, head[:])
	w, h, ok := imageSize(head[:n], &base64Reader{s: s, left: maxImageBase64})
	return chargeOf(rule, w, h, ok)
}

// dataURLBase64 returns the base64 of a data: URL whose header (before
// its comma, within maxDataURLHeader bytes, all ASCII) ends in ";base64",
// from s, the contents of a JSON string as the body has them; nil for any
// other URL.
func dataURLBase64(s []byte) []byte {
	var hdr [maxDataURLHeader]byte
	for n, i := 0, 0; n < maxDataURLHeader && i < len(s); n++ {
		c, size, ok := jsonChar(s[i:])
		if !ok {
			return nil
		}
		i += size
		if c == ',' {
			h := hdr[:n]
			if len(h) >= 5 && bytes.EqualFold(h[:5], []byte("data:")) &&
				len(h) >= 7 && bytes.EqualFold(h[len(h)-7:], []byte(";base64")) {
				return s[i:]
			}
			return nil
		}
		hdr[n] = c
	}
	return nil
}

// jsonChar returns the first character of s, the contents of a valid JSON
// string, decoded from its escape, and its length in s; ok is false for a
// character outside ASCII.
func jsonChar(s []byte) (c byte, size int, ok bool) {
	if s[0] != '\\' {
		return s[0], 1, s[0] < 0x80
	}
	switch e := s[1]; e {
	case 'u':
		r := hex4(s[2:6])
		return byte(r), 6, r < 0x80
	case 'b':
		return '\b', 2, true
	case 'f':
		return '\f', 2, true
	case 'n':
		return '\n', 2, true
	case 'r':
		return '\r', 2, true
	case 't':
		return '\t', 2, true
	default: // '"', '\\', '/'
		return e, 2, true
	}
}

// base64Values maps the characters of base64, in the standard and the
// URL alphabets, to their values, and any other byte to -1.
var base64Values = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(std) {
		v[std[i]] = int8(i)
	}
	v['-'], v['_'] = 62, 63
	return v
}()

// base64Reader decodes the base64 at the start of the contents of a JSON
// string as the body has them, skipping line breaks (base64 wrapped in
// lines), up to the first other character that is not base64 (padding, a
// space, the end of the string) and at most left characters, line breaks
// included; a last group of two or three characters gives one or two
// bytes.
type base64Reader struct {
	s    []byte // the rest of the string
	left int    // characters it may still decode
	out  [3]byte
	i, n int // bytes of out read, and decoded
}

func (b *base64Reader) ReadByte() (byte, error) {
	if b.i == b.n && !b.fill() {
		return 0, io.EOF
	}
	c := b.out[b.i]
	b.i++
	return c, nil
}

func (b *base64Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if b.i == b.n {
			// Groups of four plain characters (no escape, no line
			// break) are decoded straight into p, as fill would.
			for len(p)-n >= 3 && b.left >= 4 && len(b.s) >= 4 {
				v0, v1, v2, v3 := base64Values[b.s[0]], base64Values[b.s[1]], base64Values[b.s[2]], base64Values[b.s[3]]
				if v0|v1|v2|v3 < 0 {
					break
				}
				acc := uint32(v0)<<18 | uint32(v1)<<12 | uint32(v2)<<6 | uint32(v3)
				p[n], p[n+1], p[n+2] = byte(acc>>16), byte(acc>>8), byte(acc)
				n, b.s, b.left = n+3, b.s[4:], b.left-4
			}
			if n == len(p) {
				break
			}
		}
		c, err := b.ReadByte()
		if err != nil {
			if n == 0 {
				return 0, err
			}
			break
		}
		p[n] = c
		n++
	}
	return n, nil
}

// fill decodes the next group of up to four characters into out.
func (b *base64Reader) fill() bool {
	var acc uint32
	k := 0
	for k < 4 && b.left > 0 && len(b.s) > 0 {
		c, size, ok := jsonChar(b.s)
		if c == '\n' || c == '\r' {
			// base64 wrapped in lines, as MIME writes it
			b.s, b.left = b.s[size:], b.left-1
			continue
		}
		if !ok || base64Values[c] < 0 {
			b.s = nil
			break
		}
		acc = acc<<6 | uint32(base64Values[c])
		b.s, b.left, k = b.s[size:], b.left-1, k+1
	}
	if k < 4 {
		b.s = nil // the end of the base64
	}
	acc <<= 6 * uint(4-k)
	b.out = [3]byte{byte(acc >> 16), byte(acc >> 8), byte(acc)}
	b.i, b.n = 0, max(k-1, 0)
	return b.n > 0
}

// imagePart holds the members of an object (valid JSON values, nil when
// absent) that tell an image content part.
type imagePart struct {
	typ, imageURL, detail, source []byte
	inlineData, inlineDataSnake   []byte
	fileData, fileDataSnake       []byte
	// mediaResolution is a Gemini part's (media_resolution).
	mediaResolution, mediaResolutionSnake []byte
}

// tokens returns the charge of the image the object is, or none: an OpenAI
// chat part {"type":"image_url","image_url":{"url":...,"detail":...}}, a
// Responses part {"type":"input_image","image_url":...,"detail":...}, an
// Anthropic block {"type":"image","source":{...}} (inline when its type is
// "base64"), or a Gemini part whose inlineData (inline_data) or, failing
// that, fileData (file_data) has a MIME type "image/...", by g.
func (p *imagePart) tokens(model string, g geminiMedia) imageCharge {
	if isString(p.typ) {
		switch {
		case keyIs(p.typ, "image_url"):
			var url, detail []byte
			if isObject(p.imageURL) {
				members(p.imageURL, func(k, v []byte) {
					switch string(keyName(k)) {
					case "url":
						url = v
					case "detail":
						detail = v
					}
				})
			}
			return openAIImageTokens(model, url, detail)
		case keyIs(p.typ, "input_image"):
			return openAIImageTokens(model, p.imageURL, p.detail)
		case keyIs(p.typ, "image"):
			_, b64 := anthropicSource(p.source)
			return inlineImageTokens(imageAnthropic, b64)
		}
	}
	if b64, ok := p.geminiPart(isImageMIME); ok {
		return inlineImageTokens(imageRule{kind: geminiTiles, gemini: g, part: p.level()}, b64)
	}
	return imageCharge{}
}

// level returns the media resolution of a Gemini part.
func (p *imagePart) level() mediaLevel {
	return partMediaLevel(firstPresent(p.mediaResolution, p.mediaResolutionSnake))
}

// anthropicSource returns the "type" of an Anthropic block's source (a
// JSON value; nil when the source is absent or no object) and, for a
// "base64" source whose "data" is a string, its base64 as the body has it
// (escapes and all); nil for any other.
func anthropicSource(source []byte) (typ, b64 []byte) {
	if !isObject(source) {
		return nil, nil
	}
	var data []byte
	members(source, func(k, v []byte) {
		switch string(keyName(k)) {
		case "type":
			typ = v
		case "data":
			data = v
		}
	})
	if isString(typ) && keyIs(typ, "base64") && isString(data) {
		b64 = data[1 : len(data)-1]
	}
	return typ, b64
}

// geminiPart reports whether the object is a Gemini part whose inlineData
// (inline_data) or, failing that, fileData (file_data) has a MIME type
// that is accepts, and returns the base64 of an inline one, the contents
// of its JSON string as the body has them: nil for a file, or data that
// is no string.
func (p *imagePart) geminiPart(is func(mime []byte) bool) (b64 []byte, ok bool) {
	if blob := firstPresent(p.inlineData, p.inlineDataSnake); blob != nil {
		if mime, data := blobMembers(blob); is(mime) {
			if isString(data) {
				b64 = data[1 : len(data)-1]
			}
			return b64, true
		}
	}
	if file := firstPresent(p.fileData, p.fileDataSnake); file != nil {
		if mime, _ := blobMembers(file); is(mime) {
			return nil, true
		}
	}
	return nil, false
}

// geminiFileURI returns the "fileUri" (or "file_uri") of the object's
// Gemini fileData (file_data), a JSON value; nil when absent.
func (p *imagePart) geminiFileURI() []byte {
	file := firstPresent(p.fileData, p.fileDataSnake)
	if !isObject(file) {
		return nil
	}
	return firstPresent(member(file, "fileUri"), member(file, "file_uri"))
}

// openAIImageTokens returns the charge of an OpenAI image given by url (a
// JSON string: a data: URL is inline) at detail, for model.
func openAIImageTokens(model string, url, detail []byte) imageCharge {
	rule := openAIImageRule(model, isString(detail) && keyIs(detail, "low"))
	var b64 []byte
	if isString(url) {
		b64 = dataURLBase64(url[1 : len(url)-1])
	}
	return inlineImageTokens(rule, b64)
}

// blobMembers returns the MIME type ("mimeType", or failing that
// "mime_type") and the "data" of a Gemini blob or file, or nils when it is
// not an object.
func blobMembers(blob []byte) (mime, data []byte) {
	if !isObject(blob) {
		return nil, nil
	}
	var snake []byte
	members(blob, func(k, v []byte) {
		switch string(keyName(k)) {
		case "mimeType":
			mime = v
		case "mime_type":
			snake = v
		case "data":
			data = v
		}
	})
	return firstPresent(mime, snake), data
}

// isImageMIME reports whether a JSON value is a string that starts with
// "image/", in any case.
func isImageMIME(v []byte) bool { return hasMIMEPrefix(v, "image/") }

// firstPresent returns the first of vs that is not nil.
func firstPresent(vs ...[]byte) []byte {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}
