package signals

import (
	"bytes"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxTextDepth bounds how deeply nested content parts are followed.
const maxTextDepth = 16

// textLen sums the lengths of the text found in the valid JSON value v
// (nil for none): strings count in full (decoded), arrays are summed, the
// numbers in them (token ids) at four bytes, a token, each, and objects
// contribute their "text", "content" and "parts" fields, the output and
// arguments of a tool call ("output", "arguments"), and, at the length of
// their JSON, the tool calls of a message ("tool_calls", "function_call",
// Gemini's "functionCall"), the input of an Anthropic tool_use block
// ("input") and the response of a Gemini functionResponse, and the text
// of an Anthropic document whose "source" is text or content blocks; the
// Converse API's "toolUse" and "toolResult" blocks are read as the
// objects they hold, and a "json" block of a tool's result counts at
// the length of its JSON.
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
			toolUse, toolResult, json                          []byte
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
			case "toolUse":
				f.toolUse = e
			case "toolResult":
				f.toolResult = e
			case "json":
				f.json = e
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
		for _, e := range [...][]byte{f.text, f.content, f.parts, f.arguments, f.output, f.toolUse, f.toolResult} {
			n = satAdd(n, textLen(e, depth+1, img))
		}
		for _, e := range [...][]byte{f.toolCalls, f.functionCall, f.functionCallGemini, f.input, f.json} {
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
