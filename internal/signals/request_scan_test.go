package signals

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

// decodeObject decodes a JSON object, keeping numbers as json.Number.
func decodeObject(body []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, false
	}
	return obj, true
}

// decodedParseRequest is ParseRequest by decoding the whole body: the
// reference the scanning reader must agree with.
func decodedParseRequest(body []byte) Request { return decodedParseRequestFor(body, "") }

// decodedParseRequestFor is ParseRequestFor by decoding the whole body.
func decodedParseRequestFor(body []byte, model string) Request {
	var r Request
	obj, ok := decodeObject(body)
	if !ok {
		return r
	}
	r.Model, _ = obj["model"].(string)
	r.PreviousResponseID, _ = obj["previous_response_id"].(string)
	switch c := obj["conversation"].(type) {
	case string:
		r.Conversation = c
	case map[string]any:
		r.Conversation, _ = c["id"].(string)
	}
	r.Stream, _ = obj["stream"].(bool)
	for _, key := range []string{"max_tokens", "max_completion_tokens", "max_output_tokens"} {
		if n, ok := jsonCount(obj[key]); ok {
			r.MaxTokens = n
			break
		}
	}
	for _, key := range []string{"n", "best_of"} {
		if n, ok := jsonCount(obj[key]); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	var level mediaLevel
	if cfg, ok := obj["generationConfig"].(map[string]any); ok {
		level = decodedMediaLevel(cfg["mediaResolution"])
		if r.MaxTokens == 0 {
			r.MaxTokens, _ = jsonCount(cfg["maxOutputTokens"])
		}
		if n, ok := jsonCount(cfg["candidateCount"]); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	for _, key := range []string{"messages", "contents", "input"} {
		list, _ := obj[key].([]any)
		for _, e := range list {
			if _, ok := e.(map[string]any); ok {
				r.Messages = satAdd(r.Messages, 1)
			}
		}
	}
	if r.Model != "" {
		model = r.Model
	}
	images := imageTally{model: model, gemini: geminiMedia{gen: geminiGeneration(model), level: level}}
	for _, key := range []string{"messages", "system", "instructions", "prompt", "input", "contents", "systemInstruction", "system_instruction", "content", "requests"} {
		r.PromptChars = satAdd(r.PromptChars, decodedTextLen(obj[key], 0, &images))
	}
	r.ImageTokens, r.UnsizedImageTokens = images.tokens, images.bound
	r.DocumentTokens = images.docTokens
	r.MediaTokens, r.UnknownLengthMediaTokens = images.mediaTokens, images.mediaBound
	if images.refs == 1 {
		r.Reference, r.ReferenceTokens = stringValue(images.ref), images.refTokens
	}
	for _, key := range []string{"tools", "functions"} {
		if v, ok := obj[key]; ok {
			r.PromptChars = satAdd(r.PromptChars, decodedJSONLen(v, 0))
		}
	}
	return r
}

func decodedTextLen(v any, depth int, img *imageTally) int64 {
	if depth > maxTextDepth {
		return 0
	}
	switch v := v.(type) {
	case string:
		return int64(len(v))
	case []any:
		var n int64
		for _, e := range v {
			if _, ok := e.(json.Number); ok {
				n = satAdd(n, 4)
				continue
			}
			n = satAdd(n, decodedTextLen(e, depth+1, img))
		}
		return n
	case map[string]any:
		img.add(decodedImageTokens(v, img.model, img.gemini))
		img.addDocument(decodedDocumentTokens(v, img.model, img.gemini))
		img.addMedia(decodedMediaTokens(v, img.gemini))
		var n int64
		for _, key := range []string{"text", "content", "parts", "arguments", "output"} {
			n = satAdd(n, decodedTextLen(v[key], depth+1, img))
		}
		for _, key := range []string{"tool_calls", "function_call", "functionCall", "input"} {
			if e, ok := v[key]; ok {
				n = satAdd(n, decodedJSONLen(e, depth+1))
			}
		}
		if src, ok := v["source"].(map[string]any); ok {
			switch src["type"] {
			case "text":
				n = satAdd(n, decodedTextLen(src["data"], depth+2, img))
			case "content":
				n = satAdd(n, decodedTextLen(src["content"], depth+2, img))
			}
		}
		for _, key := range []string{"functionResponse", "function_response"} {
			if r, ok := v[key].(map[string]any); ok {
				if e, ok := r["response"]; ok {
					n = satAdd(n, decodedJSONLen(e, depth+2))
				}
			}
		}
		return n
	}
	return 0
}

// decodedMediaLevel is parseMediaLevel for a decoded value.
func decodedMediaLevel(v any) mediaLevel {
	switch v {
	case "MEDIA_RESOLUTION_LOW":
		return levelLow
	case "MEDIA_RESOLUTION_MEDIUM":
		return levelMedium
	case "MEDIA_RESOLUTION_HIGH":
		return levelHigh
	case "MEDIA_RESOLUTION_ULTRA_HIGH":
		return levelUltraHigh
	}
	return levelDefault
}

// decodedPartLevel is imagePart.level for a decoded object.
func decodedPartLevel(m map[string]any) mediaLevel {
	o, _ := decodedFirst(m, "mediaResolution", "media_resolution").(map[string]any)
	return decodedMediaLevel(o["level"])
}

// decodedFirst is firstPresent for a decoded object: its member named
// first, or failing that its member named second.
func decodedFirst(m map[string]any, first, second string) any {
	if v, ok := m[first]; ok {
		return v
	}
	return m[second]
}

// decodedImageTokens is imagePart.tokens for a decoded object.
func decodedImageTokens(m map[string]any, model string, g geminiMedia) imageCharge {
	openAI := func(url, detail any) imageCharge {
		rule := openAIImageRule(model, detail == "low")
		s, _ := url.(string)
		return decodedInlineImageTokens(rule, decodedDataURLBase64(s))
	}
	switch m["type"] {
	case "image_url":
		var url, detail any
		if o, ok := m["image_url"].(map[string]any); ok {
			url, detail = o["url"], o["detail"]
		}
		return openAI(url, detail)
	case "input_image":
		return openAI(m["image_url"], m["detail"])
	case "image":
		var data *string
		if src, ok := m["source"].(map[string]any); ok && src["type"] == "base64" {
			if d, ok := src["data"].(string); ok {
				data = &d
			}
		}
		return decodedInlineImageTokens(imageAnthropic, data)
	}
	if b64, ok := decodedGeminiPart(m, mimePrefix("image/")); ok {
		return decodedInlineImageTokens(imageRule{kind: geminiTiles, gemini: g, part: decodedPartLevel(m)}, b64)
	}
	return imageCharge{}
}

// decodedDataURLBase64 is dataURLBase64 for a decoded URL.
func decodedDataURLBase64(url string) *string {
	i := strings.IndexByte(url[:min(len(url), maxDataURLHeader)], ',')
	if i < 0 {
		return nil
	}
	hdr := url[:i]
	for j := range len(hdr) {
		if hdr[j] >= utf8.RuneSelf {
			return nil
		}
	}
	if len(hdr) < 7 || !strings.EqualFold(hdr[:5], "data:") || !strings.EqualFold(hdr[len(hdr)-7:], ";base64") {
		return nil
	}
	b64 := url[i+1:]
	return &b64
}

// decodedInlineImageTokens is inlineImageTokens for decoded base64, nil
// for an image that is not inline.
func decodedInlineImageTokens(rule imageRule, b64 *string) imageCharge {
	if b64 == nil || rule.low {
		return chargeOf(rule, 0, 0, false)
	}
	img := decodedBase64((*b64)[:min(len(*b64), maxImageBase64)])
	w, h, ok := imageSize(img[:min(len(img), imageHeadLen)], bytes.NewReader(img))
	return chargeOf(rule, w, h, ok)
}

// decodedBase64 decodes the base64 at the start of s, a decoded JSON
// string, as base64Reader does: line breaks are skipped, and it ends at
// the first other character that is not base64.
func decodedBase64(s string) []byte {
	s = strings.NewReplacer("\n", "", "\r", "").Replace(s) // line breaks are skipped
	if end := strings.IndexFunc(s, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || strings.ContainsRune("+/-_", r))
	}); end >= 0 {
		s = s[:end]
	}
	if len(s)%4 == 1 {
		s = s[:len(s)-1]
	}
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// decodedDocumentTokens is imagePart.documentTokens for a decoded object.
func decodedDocumentTokens(m map[string]any, model string, g geminiMedia) imageCharge {
	// openAI charges a file of file_data data (nil: absent) named ref,
	// its pages' images at detail low or not.
	openAI := func(data, ref any, low bool) imageCharge {
		perPage := openAIPageTokens(model, low)
		if s, ok := data.(string); ok {
			if b64 := decodedDataURLBase64(s); b64 != nil {
				file := decodedBase64(*b64)
				if !bytes.Contains(file[:min(len(file), pdfHeaderBytes)], []byte("%PDF-")) {
					return imageCharge{tokens: (int64(len(file)) + 3) / 4, bound: true}
				}
				return decodedPDFCharge(perPage, b64)
			}
		}
		c := decodedPDFCharge(perPage, nil)
		if data == nil {
			c = decodedGuess(c, ref)
		}
		return c
	}
	switch m["type"] {
	case "document":
		src, ok := m["source"].(map[string]any)
		if !ok {
			return imageCharge{}
		}
		switch src["type"] {
		case "base64":
			var data *string
			if d, ok := src["data"].(string); ok {
				data = &d
			}
			return decodedPDFCharge(anthropicPageTokens, data)
		case "url":
			return decodedGuess(decodedPDFCharge(anthropicPageTokens, nil), src["url"])
		case "file":
			return decodedGuess(decodedPDFCharge(anthropicPageTokens, nil), src["file_id"])
		}
		return imageCharge{}
	case "file":
		var data, id any
		if f, ok := m["file"].(map[string]any); ok {
			data, id = f["file_data"], f["file_id"]
		}
		return openAI(data, id, false)
	case "input_file":
		return openAI(m["file_data"], decodedFirst(m, "file_id", "file_url"), m["detail"] == "low")
	}
	isPDF := func(mime string) bool { return strings.EqualFold(mime, "application/pdf") }
	if b64, ok := decodedGeminiPart(m, isPDF); ok {
		c := decodedPDFCharge(g.page(decodedPartLevel(m)), b64)
		if b64 == nil {
			c = decodedGuess(c, decodedGeminiFileURI(m))
		}
		return c
	}
	return imageCharge{}
}

// decodedGuess is guessed for a decoded reference: c marked as a guess
// for ref when ref is a string, which it holds as JSON.
func decodedGuess(c imageCharge, ref any) imageCharge {
	if s, ok := ref.(string); ok {
		c.ref, _ = json.Marshal(s)
	}
	return c
}

// decodedGeminiFileURI is imagePart.geminiFileURI for a decoded object.
func decodedGeminiFileURI(m map[string]any) any {
	f, _ := decodedFirst(m, "fileData", "file_data").(map[string]any)
	return decodedFirst(f, "fileUri", "file_uri")
}

// decodedPDFCharge is pdfCharge for decoded base64, nil for a PDF that is
// not inline: it decodes the whole PDF and looks for its page objects in
// it.
func decodedPDFCharge(perPage int64, b64 *string) imageCharge {
	if b64 == nil {
		return imageCharge{tokens: perPage}
	}
	pdf := decodedBase64(*b64)
	pages := decodedPDFPages(pdf)
	if pages == 0 {
		pages = max(1, (int64(len(pdf))+pdfPageBytes-1)/pdfPageBytes)
	}
	return imageCharge{tokens: pages * perPage}
}

// decodedPDFPages counts the page objects of a whole PDF: each /Type
// followed, after any PDF white space, by /Page and then the PDF's end or
// a byte that is white space or a delimiter.
func decodedPDFPages(pdf []byte) int64 {
	var pages int64
	for i := 0; ; {
		j := bytes.Index(pdf[i:], []byte("/Type"))
		if j < 0 {
			return pages
		}
		i += j + len("/Type")
		rest := bytes.TrimLeft(pdf[i:], "\x00\t\n\f\r ")
		if name, ok := bytes.CutPrefix(rest, []byte("/Page")); ok &&
			(len(name) == 0 || bytes.IndexByte([]byte("\x00\t\n\f\r ()<>[]{}/%"), name[0]) >= 0) {
			pages++
		}
	}
}

func decodedJSONLen(v any, depth int) int64 {
	if depth > maxTextDepth {
		return 0
	}
	switch v := v.(type) {
	case nil:
		return 4
	case string:
		return int64(len(v)) + 2
	case json.Number:
		return int64(len(v))
	case bool:
		if v {
			return 4
		}
		return 5
	case []any:
		n := int64(1 + max(len(v), 1))
		for _, e := range v {
			n = satAdd(n, decodedJSONLen(e, depth+1))
		}
		return n
	case map[string]any:
		n := int64(1 + max(len(v), 1))
		for k, e := range v {
			n = satAdd(n, satAdd(int64(len(k))+3, decodedJSONLen(e, depth+1)))
		}
		return n
	}
	return 0
}

// checkRequestAgrees asserts that ParseRequest reads body as decoding it
// does, and so does ParseRequestFor a Gemini 2 and a Gemini 3 model.
func checkRequestAgrees(t *testing.T, body []byte) {
	t.Helper()
	if got, want := ParseRequest(body), decodedParseRequest(body); got != want {
		t.Fatalf("ParseRequest(%q) = %+v, decoding gives %+v", body, got, want)
	}
	for _, model := range []string{"gemini-2.5-flash", "models/gemini-3-pro-preview"} {
		if got, want := ParseRequestFor(body, model), decodedParseRequestFor(body, model); got != want {
			t.Fatalf("ParseRequestFor(%q, %q) = %+v, decoding gives %+v", body, model, got, want)
		}
	}
}

func TestRequestIsReadAsDecodingReadsIt(t *testing.T) {
	many := func(n int, dup bool) string {
		var b strings.Builder
		b.WriteString(`{"role":"user","content":"x","tool_calls":{`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			k := i
			if dup {
				k = i % 7
			}
			b.WriteString(`"k` + strings.Repeat("x", k) + `":` + strings.Repeat("1", i%5+1))
		}
		b.WriteString(`}}`)
		return b.String()
	}
	for _, body := range []string{
		`{"model":"gpt-4o","max_tokens":100,"n":2,"stream":true,"messages":[{"role":"user","content":"hello"}]}`,
		`{"model":"m","model":"n","max_tokens":"7","max_completion_tokens":8,"best_of":3,"n":2}`,
		`{"model":"caf\u00e9 \ud83d\ude00 \ud83d x \udc00","messages":[{"content":"\u00e9\ud83d\ude00\ud83d\u0041\"\\\/\b\f\n\r\t"}]}`,
		`{"model":"` + "\xff\xfe caf\xc3\xa9 \xed\xa0\x80 \xef\xbf\xbd" + `","prompt":"` + "\xff\xc3\xa9\xed\xa0\x80\xef\xbf\xbd\xf0\x9f" + `"}`,
		`{"model":7,"stream":"true","max_tokens":1.0,"n":1e1,"best_of":-1}`,
		`{"max_tokens":1e400,"max_output_tokens":5}`,
		`{"max_tokens":-0,"max_output_tokens":5}`,
		`{"generationConfig":{"maxOutputTokens":50,"candidateCount":3,"maxOutputTokens":60},"contents":[{"role":"user","parts":[{"text":"hi"},{"inlineData":{"data":"AAAA"}}]}],"systemInstruction":{"parts":[{"text":"sys"}]}}`,
		`{"generationConfig":null,"max_tokens":0}`,
		`{"model":"gpt-5","previous_response_id":"resp_\u0031","input":"and then?","previous_response_id":"resp_2"}`,
		`{"model":"gpt-5","previous_response_id":null,"input":"hi"}`,
		`{"model":"gpt-5","previous_response_id":7}`,
		`{"model":"gpt-5","conversation":"conv_1","input":"hi"}`,
		`{"model":"gpt-5","conversation":{"id":"conv_\u0032","id":"conv_3"},"conversation":{"id":4}}`,
		`{"model":"gpt-5","conversation":{"id":"conv_5"},"input":"hi"}`,
		`{"generationConfig":{"mediaResolution":"MEDIA_RESOLUTION_LOW","mediaResolution":"MEDIA_RESOLUTION_\u0048IGH"},"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="},"mediaResolution":{"level":"MEDIA_RESOLUTION_ULTRA_HIGH"}},{"fileData":{"mimeType":"application/pdf","fileUri":"u"},"media_resolution":{"level":"MEDIA_RESOLUTION_LOW"}},{"fileData":{"mimeType":"video/mp4"},"mediaResolution":null,"media_resolution":{"level":"MEDIA_RESOLUTION_HIGH"}},{"fileData":{"mimeType":"image/png"},"mediaResolution":{"level":7}}]}]}`,
		`{"generationConfig":{"mediaResolution":"MEDIA_RESOLUTION_LOW"},"contents":[{"parts":[{"fileData":{"mimeType":"image/png"}},{"fileData":{"mimeType":"video/webm"},"videoMetadata":{"fps":2}},{"fileData":{"mimeType":"application/pdf"}}]}]}`,
		`{"model":"gemini-3-flash","generationConfig":{"mediaResolution":"low"},"contents":[{"parts":[{"fileData":{"mimeType":"image/png"}}]}]}`,
		`{"input":["a","bb",[1,2,3],{"content":"x"}],"instructions":"be brief","tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"x":null,"y":true,"z":false,"w":-1.5e3}}]}`,
		`{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","content":[{"type":"tool_result","content":"out"}]}],"functions":[{"name":"f"}],"tools":null}`,
		`{"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","data":"doc text"}},{"type":"document","source":{"type":"content","content":[{"type":"text","text":"block"}]}},{"type":"document","source":{"type":"base64","data":"JVBERi0x"}},{"type":"document","source":{"type":1,"data":"x"}},{"type":"tool_use","input":{"q":"x","q":"yy"}}]}]}`,
		`{"contents":[{"parts":[{"functionResponse":{"name":"f","response":{"r":[1,2]}}},{"function_response":{"response":"s"}},{"functionCall":{"name":"g","args":{}}}]}]}`,
		`{"messages":[{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":{"content":"deep"}}}}}}}}}}}}}}}}}}]}`,
		`{"tools":[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]}`,
		`{"tools":{}, "functions":[]}`,
		`{"messages":[` + many(10, true) + `,` + many(40, true) + `,` + many(40, false) + `]}`,
		`{"messages":[{"content":"x","tool_calls":{"a":1,"\u0061":2,"b":3,"` + "\xff" + `":4,"` + "\xfe" + `":5}}]}`,
		`{"messages":[{"content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==","detail":"high","url":"x"}},{"type":"image_url","image_url":{"url":"https://e.com/a.png","detail":"low"}},{"type":"input_image","image_url":"data:image/gif;base64,R0lGODlhAQABAAAAACw=","detail":"auto"},{"type":"image","source":{"type":"base64","data":"\/9j\u002f4AAQ"}},{"type":"image","source":{"type":"url"}},{"type":"\u0069mage"}]}]}`,
		`{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="},"inline_data":{"mime_type":"image/jpeg","data":"/9j/"}},{"fileData":{"mime_type":"IMAGE/png","mimeType":"text/plain"}},{"file_data":{"mime_type":"image/\u00e9"}},{"inline_data":null,"fileData":{"mimeType":"image/x"}}]}]}`,
		`{"input":[{"content":[{"type":"input_image","image_url":"data:` + strings.Repeat("x", 300) + `;base64,AAAA"},{"type":"input_image","image_url":"dat\u00e9:;base64,AAAA"},{"type":"input_image","image_url":"data:;base64,UklGRgAAAABXRUJQVlA4WAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}]}`,
		`{"model":"m"} trailing`,
		`{"model":"m"`,
		`{"model":"m",}`,
		`["model"]`,
		`null`,
		``,
		`{"messages":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `,"model":"m"}`,
		`{"messages":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `,"model":"m"}`,
	} {
		checkRequestAgrees(t, []byte(body))
	}
}

func FuzzRequestIsReadAsDecodingReadsIt(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hello"}],"tools":[{"a":1}]}`))
	f.Add([]byte(`{"contents":[{"parts":[{"text":"hi"},{"functionResponse":{"response":{"a":"\u00e9"}}}]}],"generationConfig":{"maxOutputTokens":5}}`))
	f.Add([]byte(`{"messages":[{"content":[{"type":"document","source":{"type":"text","data":"d"}},{"input":{"k":"v","k":"w"}}]}]}`))
	f.Add([]byte(`{"messages":[{"content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==","detail":"auto"}}]}]}`))
	f.Add([]byte(`{"messages":[{"content":[{"type":"image","source":{"type":"base64","media_type":"image/gif","data":"R0lGODlhAQABAAAAACw="}}]}]}`))
	f.Add([]byte(`{"contents":[{"parts":[{"inlineData":{"mimeType":"image/webp","data":"UklGRgAAAABXRUJQVlA4IAAAAAAAAACdASoKABQA"}},{"file_data":{"mime_type":"image/png"}}]}]}`))
	f.Add([]byte(`{"generationConfig":{"mediaResolution":"MEDIA_RESOLUTION_LOW"},"contents":[{"parts":[{"fileData":{"mimeType":"video/mp4"},"mediaResolution":{"level":"MEDIA_RESOLUTION_HIGH"}}]}]}`))
	f.Add([]byte(`{"input":[{"content":[{"type":"input_image","image_url":"data:image/jpeg;base64,\/9j\/4AAQSkZJRgABAQAAAQABAAD\/2wBDAAgGBgcGBQgH","detail":"low"}]}]}`))
	pdf := b64(threePagePDF())
	f.Add([]byte(`{"messages":[{"content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + pdf + `"}},{"type":"document","source":{"type":"url","url":"u"}}]}]}`))
	f.Add([]byte(`{"model":"gpt-4o-mini","messages":[{"content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,` + pdf + `","filename":"a.pdf"}},{"type":"file","file":{"file_id":"f"}}]}]}`))
	f.Add([]byte(`{"input":[{"content":[{"type":"input_file","file_data":"data:application/pdf;base64,` + b64(pageAt(20)) + `"},{"type":"input_file","file_url":"u"}]}]}`))
	f.Add([]byte(`{"contents":[{"parts":[{"inlineData":{"mimeType":"application/PDF","data":"` + b64([]byte("/Type/Page/Type /Pages")) + `"}},{"file_data":{"mime_type":"application/pdf"}},{"inline_data":{"mime_type":"application/pdf","data":"JVBE\r\nRi0x"}}]}]}`))
	f.Add([]byte(`{"messages":[{"content":[{"type":"input_audio","input_audio":{"data":"` + b64(samples.WAV(time.Second, 8000, 1, 8)[:60]) + `","format":"wav"}},{"type":"input_audio","input_audio":{"data":7}}]}]}`))
	f.Add([]byte(`{"contents":[{"parts":[{"inlineData":{"mimeType":"audio/ogg","data":"` + b64(samples.Ogg(3*time.Second, "opus")) + `"}},{"file_data":{"mime_type":"video/mp4"}},{"inline_data":{"mime_type":"video/webm","data":"` + b64(samples.WebM(2*time.Second)) + `"},"videoMetadata":{"fps":2.5,"startOffset":"0.5s","endOffset":"1.25s"}},{"fileData":{"mimeType":"video/mp4"},"video_metadata":{"start_offset":"3s","end_offset":"62s"}}]}]}`))
	f.Add([]byte(`{"contents":[{"parts":[{"inlineData":{"mimeType":"video/mp4","data":"` + b64(samples.MP4(4*time.Second, true, 64)) + `"}},{"inlineData":{"mimeType":"audio/mpeg","data":"` + b64(samples.MP3(time.Second, 32, true)) + `"}},{"inlineData":{"mimeType":"audio/flac","data":"` + b64(samples.FLAC(time.Second, 8000)) + `"}}]}]}`))
	f.Add([]byte(`{"contents":[{"parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"gs:\/\/b\/v.mp4"}},{"type":"input_file","file_id":"f","file_url":"u"}]}]}`))
	f.Add([]byte(`{"messages":[{"content":[{"type":"file","file":{"file_id":"file-1"}},{"type":"document","source":{"type":"file","file_id":"file_2"}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkRequestAgrees(t, body)
	})
}

// A large prompt's estimate is read without copying it: a request of
// 1 MB of text, or of one base64 image, PDF or video, allocates no more
// than a few kilobytes.
// parsedAllocating returns what ParseRequest reads of body, and the bytes
// it allocates to read it.
func parsedAllocating(body []byte) (Request, int64) {
	var got Request
	allocated := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got = ParseRequest(body)
		}
	}).AllocedBytesPerOp()
	return got, allocated
}

func TestRequestIsReadWithoutCopyingIt(t *testing.T) {
	for name, body := range map[string][]byte{
		"chat":  samples.ChatRequest(1 << 20),
		"image": samples.ImageRequest(1 << 20),
		"pdf": []byte(`{"model":"claude-sonnet-4-5","max_tokens":300,"messages":[{"role":"user","content":[{"type":"text","text":"Summarize."},` +
			`{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + b64(append(threePagePDF(), make([]byte, 1<<20)...)) + `"}}]}]}`),
		"video": []byte(`{"contents":[{"role":"user","parts":[{"text":"Describe."},` +
			`{"inlineData":{"mimeType":"video/mp4","data":"` + b64(samples.MP4(90*time.Second, true, 1<<20)) + `"}}]}]}`),
	} {
		got, allocated := parsedAllocating(body)
		assert.Equal(t, decodedParseRequest(body), got, name)
		assert.Less(t, allocated, int64(4<<10), "%s: bytes allocated to read a request of %d bytes", name, len(body))
	}
}

// decodedGeminiPart is imagePart.geminiPart for a decoded object, given
// whether a MIME type is one of the part's kind: a Gemini part whose
// inlineData (inline_data) or, failing that, fileData (file_data) has
// such a type, and the base64 of an inline one (nil for a file, or data
// that is no string).
func decodedGeminiPart(m map[string]any, is func(mime string) bool) (b64 *string, ok bool) {
	present := func(keys ...string) (map[string]any, bool) {
		for _, k := range keys {
			if v, ok := m[k]; ok {
				obj, _ := v.(map[string]any)
				return obj, true
			}
		}
		return nil, false
	}
	mimeOf := func(blob map[string]any) string {
		s, _ := decodedFirst(blob, "mimeType", "mime_type").(string)
		return s
	}
	if blob, ok := present("inlineData", "inline_data"); ok && blob != nil && is(mimeOf(blob)) {
		if d, ok := blob["data"].(string); ok {
			b64 = &d
		}
		return b64, true
	}
	if file, ok := present("fileData", "file_data"); ok && file != nil && is(mimeOf(file)) {
		return nil, true
	}
	return nil, false
}

// mimePrefix returns whether a MIME type starts with p, in any case.
func mimePrefix(p string) func(mime string) bool {
	return func(mime string) bool { return len(mime) >= len(p) && strings.EqualFold(mime[:len(p)], p) }
}

// decodedMediaTokens is imagePart.mediaTokens for a decoded object.
func decodedMediaTokens(m map[string]any, g geminiMedia) imageCharge {
	if m["type"] == "input_audio" {
		a, _ := m["input_audio"].(map[string]any)
		data, ok := a["data"].(string)
		if !ok {
			return imageCharge{}
		}
		return decodedMediaCharge(openAIAudioTokensPerSecond, mediaFloorAudio, &data, 0, -1)
	}
	if b64, ok := decodedGeminiPart(m, mimePrefix("audio/")); ok {
		c := decodedMediaCharge(geminiAudioTokensPerSecond, mediaFloorAudio, b64, 0, -1)
		if b64 == nil {
			c = decodedGuess(c, decodedGeminiFileURI(m))
		}
		return c
	}
	if b64, ok := decodedGeminiPart(m, mimePrefix("video/")); ok {
		meta := decodedFirst(m, "videoMetadata", "video_metadata")
		fps, start, end := 1.0, time.Duration(0), time.Duration(-1)
		if obj, ok := meta.(map[string]any); ok {
			if n, ok := obj["fps"].(json.Number); ok {
				if f, err := n.Float64(); err == nil && f > 1 {
					fps = min(f, maxFramesPerSecond)
				}
			}
			offset := func(camel, snake string) (time.Duration, bool) {
				s, ok := decodedFirst(obj, camel, snake).(string)
				if !ok {
					return 0, false
				}
				return ParseDuration(s)
			}
			if d, ok := offset("startOffset", "start_offset"); ok {
				start = d
			}
			if d, ok := offset("endOffset", "end_offset"); ok && d > start {
				end = d
			}
		}
		c := decodedMediaCharge(int64(math.Ceil(float64(g.frame(decodedPartLevel(m)))*fps))+geminiVideoSecondTokens, mediaFloorVideo, b64, start, end)
		if b64 == nil && end < 0 {
			c = decodedGuess(c, decodedGeminiFileURI(m))
		}
		return c
	}
	return imageCharge{}
}

// decodedMediaCharge is mediaCharge for decoded base64, nil for a file
// given by reference, and the clip from start to end (-1: the file's
// end): it decodes the whole file and reads its playing time from the
// bytes.
func decodedMediaCharge(perSecond, floor int64, b64 *string, start, end time.Duration) imageCharge {
	// clipped returns the seconds of the clip of a file of d, a second
	// begun counting whole.
	clipped := func(d time.Duration) int64 {
		if end >= 0 {
			d = min(d, end)
		}
		d = max(0, d-start)
		return int64(d/time.Second) + int64(min(d%time.Second, 1))
	}
	switch {
	case b64 == nil && end < 0:
		return imageCharge{tokens: perSecond * mediaReferenceSeconds, bound: true}
	case b64 == nil:
		return imageCharge{tokens: satMul(clipped(end), perSecond), bound: true}
	}
	file := decodedBase64(*b64)
	d, known, _ := mediaDuration(bytesMedia{bytes.NewReader(file)})
	if !known {
		seconds := ceilDiv(int64(len(file)), floor)
		if end >= 0 {
			seconds = min(seconds, clipped(end))
		}
		return imageCharge{tokens: satMul(seconds, perSecond), bound: true}
	}
	return imageCharge{tokens: satMul(clipped(d), perSecond)}
}
