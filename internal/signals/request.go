package signals

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// PerMessageTokens is the fixed overhead EstimateTokens adds for each
// message, covering role markers and separators that the text alone does
// not account for.
const PerMessageTokens = 4

// maxCount caps counts read from bodies so that sums cannot overflow.
const maxCount = math.MaxInt64 / 4

// maxTextDepth bounds how deeply nested content parts are followed.
const maxTextDepth = 16

// Request is what a request body reveals about its token cost.
type Request struct {
	// Model is the "model" field, or "" when absent.
	Model string
	// MaxTokens is the output cap from "max_tokens",
	// "max_completion_tokens", "max_output_tokens" or Gemini's
	// generationConfig.maxOutputTokens, in that order of preference;
	// 0 when none is present. It caps each completion: see Choices.
	MaxTokens int64
	// Choices is the number of completions the request asks for, each
	// capped at MaxTokens: OpenAI's "n" (or the legacy completions'
	// "best_of", which generates that many, when larger) or Gemini's
	// generationConfig.candidateCount; 0 when none is present, which
	// means one.
	Choices int64
	// PromptChars is the number of bytes of prompt text: message
	// contents (the tool calls and results among them), the system
	// prompt ("system" or "instructions"), "prompt" and "input" (and
	// Gemini's "contents" and "systemInstruction", and the "content" of
	// an embedContent or of each of batchEmbedContents' "requests"), and
	// the tool definitions ("tools", or the older "functions"), which the
	// providers put in the prompt, at the length of their JSON. Bytes
	// over-count non-ASCII text, which errs on the side of caution.
	// Images are counted in ImageTokens, PDF documents in
	// DocumentTokens, and audio and video in MediaTokens.
	PromptChars int64
	// ImageTokens is the tokens of the images among the prompt's content
	// parts, by each provider's documented rule (see image.go): OpenAI's
	// {"type":"image_url"} and {"type":"input_image"}, Anthropic's
	// {"type":"image"} and Gemini's inlineData and fileData of an image
	// MIME type; an OpenAI image by the rule of the model named. An inline
	// image's size is read from its header; one of
	// unknown size counts the most its provider charges for an image. It
	// saturates instead of overflowing.
	ImageTokens int64
	// UnsizedImageTokens is the part of ImageTokens charged for images of
	// unknown size (a URL, a file, an unreadable header): a bound, the
	// most their rule allows, rather than a count.
	UnsizedImageTokens int64
	// DocumentTokens is the tokens of the PDF documents among the
	// prompt's content parts (see document.go): Anthropic's
	// {"type":"document"} whose source is base64, a URL or a file,
	// OpenAI's {"type":"file"} and {"type":"input_file"} (an inline file
	// that is no PDF, whose text alone OpenAI gives the model, counts its
	// bytes at four a token), and Gemini's inlineData and fileData of MIME
	// type application/pdf. An inline PDF's pages are counted as its page objects (or, when it shows none,
	// estimated from its size, one for each 50 KiB begun); one given by
	// reference (a URL, a file id) counts one page. A page costs 3,000
	// tokens at Anthropic, at Gemini what the model's generation counts
	// at the media resolution asked for (see geminimedia.go: 258 at Gemini
	// 2, 560 at Gemini 3 by default), and at OpenAI the named model's
	// tokens for an image of a 1700x2200 px page plus 800 for its text.
	// They are a bound rather than a count: each figure is the most its
	// provider gives for a page (Anthropic's range is 1,500 to 3,000), and
	// pages estimated from a PDF's size may be far off. It saturates
	// instead of overflowing.
	DocumentTokens int64
	// MediaTokens is the tokens of the audio and video among the
	// prompt's content parts (see mediatokens.go): OpenAI's
	// {"type":"input_audio"} and Gemini's inlineData and fileData of an
	// audio or video MIME type. An inline file's playing time is read
	// from its header (WAV, AIFF, MP3, AAC, FLAC, Ogg, MP4, QuickTime and
	// 3GP, AVI, WebM and Matroska) and charged 32 tokens a second of
	// audio at Gemini, 20 at OpenAI, and a second of video at Gemini its
	// frames (one a second, or the videoMetadata's fps; 258 tokens each
	// at Gemini 2, 70 at Gemini 3 by default, see geminimedia.go) plus 42
	// for its sound and timestamps, for the clip its videoMetadata names,
	// if any. It saturates instead of overflowing.
	MediaTokens int64
	// UnknownLengthMediaTokens is the part of MediaTokens charged for
	// files whose playing time is unknown: an inline one whose header
	// does not give it, charged from its size as if it held at least
	// 16 kbit/s of audio or 100 kbit/s of video (a bound), and one given
	// by reference, charged a minute (a guess) or the length of its clip
	// (a bound).
	UnknownLengthMediaTokens int64
	// Reference names the one file of the request given by reference
	// whose charge is a guess (a PDF charged one page, audio or video
	// charged a minute): its URI, URL or file id; "" when the request has
	// no such file, or more than one. ReferenceTokens is that guess,
	// part of DocumentTokens or MediaTokens. A caller that learns what
	// the file costs (from the usage of an answer) may charge that
	// instead.
	Reference       string
	ReferenceTokens int64
	// Messages is the number of messages (objects) in "messages" (or
	// Gemini's "contents", or an array "input"); the strings and token
	// ids of an embedding's "input" are no messages.
	Messages int64
	// Stream reports whether "stream" is true.
	Stream bool
	// PreviousResponseID is the Responses API's "previous_response_id":
	// the response whose conversation the server adds to this request's
	// input. "" when absent.
	PreviousResponseID string
	// Conversation is the Responses API's "conversation" (its id, given
	// as a string or as an object's "id"): the conversation whose items
	// the server adds to this request's input. "" when absent.
	Conversation string
}

// EstimateTokens returns a conservative token estimate for the request:
// EstimateOutputTokens plus EstimateInputTokens. The result saturates
// instead of overflowing.
func (r Request) EstimateTokens() int64 {
	return satAdd(r.EstimateOutputTokens(), r.EstimateInputTokens())
}

// EstimateOutputTokens returns the most output tokens the request may
// generate, as the providers count it against their limits: MaxTokens for
// each of its Choices. The result saturates instead of overflowing.
func (r Request) EstimateOutputTokens() int64 {
	return satMul(max(r.MaxTokens, 0), max(r.Choices, 1))
}

// EstimateInputTokens returns a conservative estimate of the request's
// input tokens: one token per four bytes of prompt text, plus
// PerMessageTokens for each message, plus ImageTokens, DocumentTokens
// and MediaTokens. The result saturates instead of overflowing.
func (r Request) EstimateInputTokens() int64 {
	n := satAdd(satAdd(max(r.PromptChars, 0)/4, satMul(max(r.Messages, 0), PerMessageTokens)), max(r.ImageTokens, 0))
	return satAdd(satAdd(n, max(r.DocumentTokens, 0)), max(r.MediaTokens, 0))
}

// ParseRequest reads a JSON request body for OpenAI's chat completions,
// completions and responses APIs, Anthropic's messages API or Gemini's
// generateContent. Anything it does not understand is ignored; a body
// that is not a JSON object yields the zero Request. It reads the body as
// encoding/json would decode it (the last of duplicate keys winning),
// without decoding it: it allocates the model's name, each escaped key it
// must compare, and the keys of large objects in tool definitions (to
// find their duplicates), never a copy of the body.
func ParseRequest(body []byte) Request { return ParseRequestFor(body, "") }

// ParseRequestFor is ParseRequest for a request to model, which names the
// model when the body does not: a Gemini request's is in its URL. A
// Gemini model's generation tells what its images, PDF pages and video
// frames cost (see geminimedia.go).
func ParseRequestFor(body []byte, model string) Request {
	var r Request
	obj, ok := validValue(body)
	if !ok || !isObject(obj) {
		return r
	}
	var f struct {
		model, stream                             []byte
		maxTokens, maxCompletionTokens, maxOutput []byte
		n, bestOf, generationConfig               []byte
		messages, contents, input                 []byte
		system, instructions, prompt              []byte
		systemInstruction, systemInstructionSnake []byte
		tools, functions                          []byte
		content, requests                         []byte
		previousResponseID, conversation          []byte
	}
	members(obj, func(k, v []byte) {
		switch string(keyName(k)) {
		case "model":
			f.model = v
		case "previous_response_id":
			f.previousResponseID = v
		case "conversation":
			f.conversation = v
		case "stream":
			f.stream = v
		case "max_tokens":
			f.maxTokens = v
		case "max_completion_tokens":
			f.maxCompletionTokens = v
		case "max_output_tokens":
			f.maxOutput = v
		case "n":
			f.n = v
		case "best_of":
			f.bestOf = v
		case "generationConfig":
			f.generationConfig = v
		case "messages":
			f.messages = v
		case "contents":
			f.contents = v
		case "input":
			f.input = v
		case "system":
			f.system = v
		case "instructions":
			f.instructions = v
		case "prompt":
			f.prompt = v
		case "systemInstruction":
			f.systemInstruction = v
		case "system_instruction":
			f.systemInstructionSnake = v
		case "tools":
			f.tools = v
		case "functions":
			f.functions = v
		case "content":
			f.content = v
		case "requests":
			f.requests = v
		}
	})
	r.Model = stringValue(f.model)
	r.PreviousResponseID = stringValue(f.previousResponseID)
	if c := f.conversation; isObject(c) {
		r.Conversation = stringValue(member(c, "id"))
	} else {
		r.Conversation = stringValue(c)
	}
	r.Stream = string(f.stream) == "true"
	for _, v := range [...][]byte{f.maxTokens, f.maxCompletionTokens, f.maxOutput} {
		if n, ok := rawCount(v); ok {
			r.MaxTokens = n
			break
		}
	}
	for _, v := range [...][]byte{f.n, f.bestOf} {
		if n, ok := rawCount(v); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	var level mediaLevel
	if cfg := f.generationConfig; isObject(cfg) {
		var maxOut, candidates, resolution []byte
		members(cfg, func(k, v []byte) {
			switch string(keyName(k)) {
			case "maxOutputTokens":
				maxOut = v
			case "candidateCount":
				candidates = v
			case "mediaResolution":
				resolution = v
			}
		})
		level = parseMediaLevel(resolution)
		if r.MaxTokens == 0 {
			r.MaxTokens, _ = rawCount(maxOut)
		}
		if n, ok := rawCount(candidates); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	for _, list := range [...][]byte{f.messages, f.contents, f.input} {
		if len(list) > 0 && list[0] == '[' {
			elements(list, func(e []byte) {
				if isObject(e) {
					r.Messages = satAdd(r.Messages, 1)
				}
			})
		}
	}
	if r.Model != "" {
		model = r.Model
	}
	images := imageTally{model: model, gemini: geminiMedia{gen: geminiGeneration(model), level: level}}
	for _, v := range [...][]byte{f.messages, f.system, f.instructions, f.prompt, f.input, f.contents, f.systemInstruction, f.systemInstructionSnake, f.content, f.requests} {
		r.PromptChars = satAdd(r.PromptChars, textLen(v, 0, &images))
	}
	r.ImageTokens, r.UnsizedImageTokens = images.tokens, images.bound
	r.DocumentTokens = images.docTokens
	r.MediaTokens, r.UnknownLengthMediaTokens = images.mediaTokens, images.mediaBound
	if images.refs == 1 {
		r.Reference, r.ReferenceTokens = stringValue(images.ref), images.refTokens
	}
	for _, v := range [...][]byte{f.tools, f.functions} {
		if v != nil {
			r.PromptChars = satAdd(r.PromptChars, jsonLen(v, 0))
		}
	}
	return r
}

// imageTally sums the tokens of the images in a request for its model,
// whose name tells how OpenAI counts them (and gemini, how Gemini counts
// them, its PDF pages and video frames), and, in bound, those of the
// images of unknown size; in docTokens, those of its PDF documents; and in
// mediaTokens those of its audio and video, in mediaBound those of unknown
// length.
type imageTally struct {
	model                   string
	gemini                  geminiMedia
	tokens, bound           int64
	docTokens               int64
	mediaTokens, mediaBound int64
	// refs counts the files whose charge is a guess for a reference;
	// ref and refTokens are the first's.
	refs      int
	ref       []byte
	refTokens int64
}

// add counts the charge of one image.
func (t *imageTally) add(c imageCharge) {
	t.tokens = satAdd(t.tokens, c.tokens)
	if c.bound {
		t.bound = satAdd(t.bound, c.tokens)
	}
}

// addDocument counts the charge of one PDF document.
func (t *imageTally) addDocument(c imageCharge) {
	t.docTokens = satAdd(t.docTokens, c.tokens)
	t.addRef(c)
}

// addRef counts c if it is a guess for a reference.
func (t *imageTally) addRef(c imageCharge) {
	if c.ref == nil {
		return
	}
	if t.refs++; t.refs == 1 {
		t.ref, t.refTokens = c.ref, c.tokens
	}
}

// addMedia counts the charge of one audio or video file.
func (t *imageTally) addMedia(c imageCharge) {
	t.mediaTokens = satAdd(t.mediaTokens, c.tokens)
	if c.bound {
		t.mediaBound = satAdd(t.mediaBound, c.tokens)
	}
	t.addRef(c)
}

// rawCount is jsonCount for a valid JSON value; nil (a missing member)
// yields false.
func rawCount(v []byte) (int64, bool) {
	if !isNumber(v) {
		return 0, false
	}
	return numberCount(string(v))
}

// textLen sums the lengths of the text found in the valid JSON value v
// (nil for none): strings count in full (decoded), arrays are summed, the
// numbers in them (token ids) at four bytes, a token, each, and objects
// contribute their "text", "content" and "parts" fields, the output and
// arguments of a tool call ("output", "arguments"), and, at the length of
// their JSON, the tool calls of a message ("tool_calls", "function_call",
// Gemini's "functionCall"), the input of an Anthropic tool_use block
// ("input") and the response of a Gemini functionResponse, and the text
// of an Anthropic document whose "source" is text or content blocks.
// Other values, images, PDFs, audio and video among them, count zero; the
// tokens of the images, PDF documents, audio and video among the objects
// it reads (see imagePart, documentTokens and mediaTokens) are added to
// img.
func textLen(v []byte, depth int, img *imageTally) int64 {
	if len(v) == 0 || depth > maxTextDepth {
		return 0
	}
	switch v[0] {
	case '"':
		return decodedLen(v)
	case '[':
		var n int64
		elements(v, func(e []byte) {
			if isNumber(e) {
				n = satAdd(n, 4) // a token id
				return
			}
			n = satAdd(n, textLen(e, depth+1, img))
		})
		return n
	case '{':
		var f struct {
			text, content, parts, arguments, output            []byte
			toolCalls, functionCall, functionCallGemini, input []byte
			source, functionResponse, functionResponseSnake    []byte
			image                                              imagePart
			document                                           documentPart
			media                                              mediaPart
		}
		members(v, func(k, e []byte) {
			switch string(keyName(k)) {
			case "text":
				f.text = e
			case "content":
				f.content = e
			case "parts":
				f.parts = e
			case "arguments":
				f.arguments = e
			case "output":
				f.output = e
			case "tool_calls":
				f.toolCalls = e
			case "function_call":
				f.functionCall = e
			case "functionCall":
				f.functionCallGemini = e
			case "input":
				f.input = e
			case "source":
				f.source = e
			case "functionResponse":
				f.functionResponse = e
			case "function_response":
				f.functionResponseSnake = e
			case "type":
				f.image.typ = e
			case "image_url":
				f.image.imageURL = e
			case "detail":
				f.image.detail = e
			case "inlineData":
				f.image.inlineData = e
			case "inline_data":
				f.image.inlineDataSnake = e
			case "fileData":
				f.image.fileData = e
			case "file_data":
				f.image.fileDataSnake = e
			case "file":
				f.document.file = e
			case "file_id":
				f.document.fileID = e
			case "file_url":
				f.document.fileURL = e
			case "input_audio":
				f.media.inputAudio = e
			case "videoMetadata":
				f.media.videoMetadata = e
			case "video_metadata":
				f.media.videoMetadataSnake = e
			case "mediaResolution":
				f.image.mediaResolution = e
			case "media_resolution":
				f.image.mediaResolutionSnake = e
			}
		})
		f.image.source = f.source
		img.add(f.image.tokens(img.model, img.gemini))
		img.addDocument(f.image.documentTokens(img.model, img.gemini, f.document))
		img.addMedia(f.image.mediaTokens(img.gemini, f.media))
		var n int64
		for _, e := range [...][]byte{f.text, f.content, f.parts, f.arguments, f.output} {
			n = satAdd(n, textLen(e, depth+1, img))
		}
		for _, e := range [...][]byte{f.toolCalls, f.functionCall, f.functionCallGemini, f.input} {
			if e != nil {
				n = satAdd(n, jsonLen(e, depth+1))
			}
		}
		if src := f.source; isObject(src) {
			// An Anthropic document given as text, or as content
			// blocks; a base64 (PDF) or URL source is not text.
			var typ, data, content []byte
			members(src, func(k, e []byte) {
				switch string(keyName(k)) {
				case "type":
					typ = e
				case "data":
					data = e
				case "content":
					content = e
				}
			})
			switch {
			case isString(typ) && keyIs(typ, "text"):
				n = satAdd(n, textLen(data, depth+2, img))
			case isString(typ) && keyIs(typ, "content"):
				n = satAdd(n, textLen(content, depth+2, img))
			}
		}
		for _, r := range [...][]byte{f.functionResponse, f.functionResponseSnake} {
			if isObject(r) {
				if e := member(r, "response"); e != nil {
					n = satAdd(n, jsonLen(e, depth+2))
				}
			}
		}
		return n
	}
	return 0
}

// jsonLen returns the length of the valid JSON value v written as
// compact JSON once decoded: each string counts its decoded bytes, and an
// object each of its keys once (with the last of its values, as a decoded
// map holds it). Values nested deeper than maxTextDepth count zero.
func jsonLen(v []byte, depth int) int64 {
	if len(v) == 0 || depth > maxTextDepth {
		return 0
	}
	switch v[0] {
	case 'n', 't':
		return 4 // null, true
	case 'f':
		return 5
	case '"':
		return decodedLen(v) + 2
	case '[':
		var n, count int64
		elements(v, func(e []byte) {
			count++
			n = satAdd(n, jsonLen(e, depth+1))
		})
		return satAdd(1+max(count, 1), n) // brackets and commas
	case '{':
		var small [16]objectMember
		list := small[:0]
		members(v, func(k, e []byte) { list = append(list, objectMember{k, e}) })
		var n, count int64
		forLastOfEachKey(list, func(m objectMember) {
			count++
			n = satAdd(n, satAdd(decodedLen(m.key)+3, jsonLen(m.val, depth+1)))
		})
		return satAdd(1+max(count, 1), n) // braces and commas
	}
	return int64(len(v)) // a number, as its text
}

// objectMember is one member of a JSON object: its quoted key and value.
type objectMember struct{ key, val []byte }

// forLastOfEachKey calls f with the last member of list of each key, as
// decoding the object into a map keeps them. Each key is decoded once.
func forLastOfEachKey(list []objectMember, f func(objectMember)) {
	if len(list) <= 32 {
		var names [32][]byte
		for i, m := range list {
			names[i] = keyName(m.key)
		}
		for i, m := range list {
			dup := false
			for _, later := range names[i+1 : len(list)] {
				if bytes.Equal(names[i], later) {
					dup = true
					break
				}
			}
			if !dup {
				f(m)
			}
		}
		return
	}
	seen := make(map[string]bool, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		k := string(keyName(list[i].key))
		if !seen[k] {
			seen[k] = true
			f(list[i])
		}
	}
}

// isString reports whether a valid JSON value is a string.
func isString(v []byte) bool { return len(v) > 0 && v[0] == '"' }

// decodedLen returns the length of a valid quoted JSON string once
// decoded as encoding/json decodes it: escapes become the bytes they
// stand for, an invalid UTF-8 byte or an unpaired surrogate U+FFFD.
func decodedLen(q []byte) int64 {
	s := q[1 : len(q)-1]
	var n int64
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if s[i+1] != 'u' {
				n++
				i += 2
				continue
			}
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(s[i+2:i+6])); dec != unicode.ReplacementChar {
						n += int64(utf8.RuneLen(dec))
						i += 6
						continue
					}
				}
				r = unicode.ReplacementChar
			}
			n += int64(utf8.RuneLen(r))
		case c < utf8.RuneSelf:
			n++
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			n += int64(utf8.RuneLen(r)) // U+FFFD for an invalid byte
			i += size
		}
	}
	return n
}

// hex4 decodes four hexadecimal digits, which the scanner has checked.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r*16 + rune(c)
	}
	return r
}

// jsonCount converts a decoded JSON number to a non-negative count. Whole
// numbers written with a fraction or exponent ("100.0", "1e3") are
// accepted; negative, fractional and non-numeric values are not. Large
// values are capped at maxCount.
func jsonCount(v any) (int64, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	return numberCount(string(num))
}

// numberCount is jsonCount for the text of a JSON number.
func numberCount(num string) (int64, bool) {
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(n, maxCount), true
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil && !math.IsInf(f, 1) {
		return 0, false
	}
	if f < 0 || f != math.Trunc(f) {
		return 0, false
	}
	if f >= maxCount {
		return maxCount, true
	}
	return int64(f), true
}

// satMul multiplies two non-negative counts, saturating at math.MaxInt64.
func satMul(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}

// satAdd adds two non-negative counts, saturating at math.MaxInt64.
func satAdd(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}
