package signals

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/ratellmiter/ratellmiter/internal/samples"
	"github.com/stretchr/testify/assert"
)

// threePagePDF returns a small valid PDF of three pages whose page
// objects are written "/Type/Page", "/Type /Page" and "/Type /Page" at a
// line's end, under a /Type /Pages node of /Count 3.
func threePagePDF() []byte {
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
		"<< /Type /Page\n/Parent 2 0 R\n/MediaBox [0 0 612 792]\n>>",
	}
	return samples.PDF(objects...)
}

// pageAt returns a PDF that holds one page object, "/Type /Page", which
// starts at offset at of its decoded bytes.
func pageAt(at int) []byte {
	b := []byte("%PDF-1.4\n")
	for len(b) < at {
		b = append(b, ' ')
	}
	b = append(b, "/Type /Page /Parent 2 0 R >>\nendobj\n"...)
	return b
}

// The request shapes that carry a PDF.
func anthropicDocumentBody(source string) string {
	return `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":[{"type":"document","source":` + source + `},{"type":"text","text":"Summarize."}]}]}`
}

func chatFileBody(model, file string) string {
	return `{"model":"` + model + `","messages":[{"role":"user","content":[{"type":"text","text":"Summarize."},{"type":"file","file":` + file + `}]}]}`
}

func responsesFileBody(part string) string {
	return `{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":"Summarize."},{"type":"input_file",` + part + `}]}]}`
}

func TestOpenAIChargesAPageAsAnImageOfItAndItsText(t *testing.T) {
	for model, want := range map[string]int64{
		"gpt-4o":       85 + 4*170 + 800, // 1700x2200 is scaled to 1582x2048, then 768x994: 4 tiles
		"gpt-4.1":      85 + 4*170 + 800,
		"":             85 + 4*170 + 800,
		"gpt-4o-mini":  2833 + 4*5667 + 800,
		"gpt-5":        70 + 4*140 + 800,
		"o3":           75 + 4*150 + 800,
		"gpt-4.1-mini": 2489 + 800, // 54x69 patches, over the 1,536 at most
		"o4-mini":      2642 + 800,
	} {
		assert.Equal(t, want, openAIPageTokens(model, false), model)
	}
}

func TestRequestCountsThePagesOfPDFs(t *testing.T) {
	pdf := threePagePDF()
	data := b64(pdf)
	gpt4o := int64(85 + 4*170 + 800)
	mini := int64(2833 + 4*5667 + 800)
	var wrapped strings.Builder
	for i := 0; i < len(data); i += 76 {
		wrapped.WriteString(data[i:min(i+76, len(data))])
		wrapped.WriteString(`\r\n`) // escaped, as JSON has them
	}
	escaped := strings.NewReplacer("/", `\/`, "A", `\u0041`).Replace(data)
	require := func(cond bool, what string) {
		if !cond {
			t.Fatalf("the test's data is wrong: %s", what)
		}
	}
	require(strings.Contains(data, "/") && strings.Contains(data, "A"), "the base64 has characters to escape")
	png1024 := encodedImage(t, "png", 1024, 1024)

	tests := []struct {
		name   string
		body   string
		tokens int64
		images int64
	}{
		{"anthropic base64", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + data + `"}`), 3 * 3000, 0},
		{"anthropic url", anthropicDocumentBody(`{"type":"url","url":"https://example.com/a.pdf"}`), 3000, 0},
		{"anthropic file", anthropicDocumentBody(`{"type":"file","file_id":"file_011"}`), 3000, 0},
		{"anthropic text is counted as text", anthropicDocumentBody(`{"type":"text","media_type":"text/plain","data":"plain words"}`), 0, 0},
		{"anthropic content is counted as text", anthropicDocumentBody(`{"type":"content","content":[{"type":"text","text":"words"}]}`), 0, 0},
		{"anthropic no source", `{"messages":[{"role":"user","content":[{"type":"document"}]}]}`, 0, 0},
		{"anthropic pdf in a tool result", `{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + data + `"}}]}]}]}`, 3 * 3000, 0},
		{"chat file data", chatFileBody("gpt-4o", `{"file_data":"data:application/pdf;base64,`+data+`","filename":"a.pdf"}`), 3 * gpt4o, 0},
		{"chat file data on gpt-4o-mini", chatFileBody("gpt-4o-mini", `{"file_data":"data:application/pdf;base64,`+data+`","filename":"a.pdf"}`), 3 * mini, 0},
		{"chat file id", chatFileBody("gpt-4o", `{"file_id":"file-abc"}`), gpt4o, 0},
		{"chat file not an object", chatFileBody("gpt-4o", `"file-abc"`), gpt4o, 0},
		{"chat file data url not base64", chatFileBody("gpt-4o", `{"file_data":"data:application/pdf,%25PDF-1.4%0A%2FType%20%2FPage","filename":"a.pdf"}`), gpt4o, 0},
		{"responses file data", responsesFileBody(`"file_data":"data:application/pdf;base64,` + data + `","filename":"a.pdf"`), 3 * gpt4o, 0},
		{"responses file id", responsesFileBody(`"file_id":"file-abc"`), gpt4o, 0},
		{"responses file url", responsesFileBody(`"file_url":"https://example.com/a.pdf"`), gpt4o, 0},
		{"gemini inlineData", geminiImageBody(`{"inlineData":{"mimeType":"application/pdf","data":"` + data + `"}}`), 3 * 560, 0},
		{"gemini inline_data in any case", geminiImageBody(`{"inline_data":{"mime_type":"Application/PDF","data":"` + data + `"}}`), 3 * 560, 0},
		{"gemini fileData", geminiImageBody(`{"fileData":{"mimeType":"application/pdf","fileUri":"gs://b/a.pdf"}}`), 560, 0},
		{"gemini file_data", geminiImageBody(`{"file_data":{"mime_type":"application/pdf","file_uri":"gs://b/a.pdf"}}`), 560, 0},
		{"gemini text file is no pdf", geminiImageBody(`{"inlineData":{"mimeType":"text/plain","data":"` + data + `"}}`), 0, 0},
		{"object stream: pages estimated from the size, a bound", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + b64(samples.CompressedPDF(120<<10)) + `"}`), 3 * 3000, 0},
		{"object stream on gemini", geminiImageBody(`{"inlineData":{"mimeType":"application/pdf","data":"` + b64(samples.CompressedPDF(120<<10)) + `"}}`), 3 * 560, 0},
		{"/Pages alone counts no page", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + b64([]byte("%PDF-1.4\n2 0 obj << /Type /Pages /Count 3 >> endobj\n3 0 obj << /Type /Pagesx /Type/Pages>> endobj\n/Type /Page2 /Type/PageLabels")) + `"}`), 3000, 0},
		{"not a pdf", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + b64(make([]byte, 60<<10)) + `"}`), 2 * 3000, 0},
		{"empty data", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":""}`), 3000, 0},
		{"malformed base64", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"%%%%"}`), 3000, 0},
		{"data not a string", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":7}`), 3000, 0},
		{"escaped base64", anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + escaped + `"}`), 3 * 3000, 0},
		{"base64 in lines", chatFileBody("gpt-4o", `{"file_data":"data:application/pdf;base64,`+wrapped.String()+`"}`), 3 * gpt4o, 0},
		{"mixed with images", `{"model":"gpt-4o","messages":[{"role":"user","content":[` +
			`{"type":"image_url","image_url":{"url":"` + dataURL("image/png", png1024) + `"}},` +
			`{"type":"file","file":{"file_data":"data:application/pdf;base64,` + data + `"}},` +
			`{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},` +
			`{"type":"file","file":{"file_id":"file-abc"}}]}]}`, 3*gpt4o + gpt4o, (85 + 4*170) + (85 + 8*170)},
		{"documents add up across messages", `{"messages":[` +
			`{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + data + `"}}]},` +
			`{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + b64(samples.CompressedPDF(120<<10)) + `"}}]}]}`, 6 * 3000, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte(tc.body)
			r := ParseRequest(body)
			assert.Equal(t, tc.tokens, r.DocumentTokens, "document tokens")
			assert.Equal(t, tc.images, r.ImageTokens, "image tokens")
			assert.Equal(t, decodedParseRequest(body), r, "the decoding reference agrees")
		})
	}
}

// A page object is found wherever it falls in the decoder's buffer: across
// its boundary too.
func TestPageObjectsAreFoundAcrossTheDecodersBuffer(t *testing.T) {
	for _, at := range []int{pdfChunk - 11, pdfChunk - 10, pdfChunk - 6, pdfChunk - 5, pdfChunk - 1, pdfChunk, 2*pdfChunk - 3, 3*pdfChunk - 11} {
		pdf := pageAt(at)
		pages, counted := pdfPages([]byte(b64(pdf)))
		assert.Equal(t, int64(1), pages, "a page at %d", at)
		assert.True(t, counted, "a page at %d", at)
		body := []byte(anthropicDocumentBody(`{"type":"base64","data":"` + b64(pdf) + `"}`))
		assert.Equal(t, decodedParseRequest(body), ParseRequest(body), "the decoding reference agrees")
	}
	// "/Type /Pages" split across the boundary before its "s" is no page.
	pdf := []byte("%PDF-1.4\n")
	for len(pdf) < pdfChunk-11 {
		pdf = append(pdf, ' ')
	}
	pdf = append(pdf, "/Type /Pages /Count 1 >>"...)
	pages, counted := pdfPages([]byte(b64(pdf)))
	assert.Equal(t, [2]any{int64(1), false}, [2]any{pages, counted}, "no page object: one page estimated")
}

func TestPageObjectsAreNamesNotPartsOfNames(t *testing.T) {
	for text, want := range map[string]int64{
		"/Type /Page":                   1,
		"/Type/Page":                    1,
		"/Type\x00\t\n\f\r /Page\n":     1,
		"/Type /Page/Parent":            1,
		"/Type /Page>>":                 1,
		"/Type /Page(":                  1,
		"/Type /Page%c":                 1,
		"/Type /Pages":                  0,
		"/Type /PageLabels":             0,
		"/Type /Page1":                  0,
		"/Types /Page":                  0,
		"/Type x /Page":                 0,
		"/Type //Page":                  0,
		"/Type/Type/Page":               1,
		"/Type /Type /Page /Type /Page": 2,
		"/Type /P/Type /Page":           1,
		"/Type /Page/Type /Page":        2,
		"//Type /Page":                  1,
		"Type /Page":                    0,
		"/Type":                         0,
		"/Type /Pag":                    0,
	} {
		var m pageMatcher
		for i := range len(text) {
			m.next(text[i])
		}
		assert.Equal(t, want, m.end(), "%q", text)
		assert.Equal(t, want, decodedPDFPages([]byte(text)), "the reference, %q", text)
	}
}

func TestEstimateInputTokensCountsDocuments(t *testing.T) {
	r := Request{PromptChars: 40, Messages: 1, ImageTokens: 765, DocumentTokens: 9000}
	assert.Equal(t, int64(10+PerMessageTokens+765+9000), r.EstimateInputTokens())
	assert.Equal(t, int64(math.MaxInt64), Request{ImageTokens: 5, DocumentTokens: math.MaxInt64}.EstimateInputTokens(), "saturates")
	assert.Equal(t, int64(1), Request{PromptChars: 4, DocumentTokens: -5}.EstimateInputTokens(), "a negative count is ignored")

	body := anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + b64(threePagePDF()) + `"}`)
	text := ParseRequest([]byte(anthropicDocumentBody(`{"type":"url","url":"x"}`)))
	assert.Equal(t, text.EstimateInputTokens()-3000+3*3000, ParseRequest([]byte(body)).EstimateInputTokens())
}

// A PDF's pages are counted without decoding it whole: a request with a
// 1 MiB PDF allocates no more than a few kilobytes.
func TestPDFIsNotDecodedWhole(t *testing.T) {
	pdf := threePagePDF()
	pdf = append(pdf[:len(pdf):len(pdf)], make([]byte, 1<<20)...)
	for name, body := range map[string][]byte{
		"anthropic": []byte(anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + b64(pdf) + `"}`)),
		"openai":    []byte(chatFileBody("gpt-4o", `{"file_data":"data:application/pdf;base64,`+b64(pdf)+`"}`)),
	} {
		got, allocated := parsedAllocating(body)
		assert.Equal(t, decodedParseRequest(body), got, name)
		assert.Positive(t, got.DocumentTokens, name)
		assert.Less(t, allocated, int64(4<<10), "%s: bytes allocated to read a request with a PDF of %d bytes", name, len(pdf))
	}
}

// The pages counted as the base64 streams through the buffer are those
// found in the whole decoded PDF, whatever its bytes.
func FuzzPDFPagesAreCountedAsInTheWholePDF(f *testing.F) {
	f.Add(threePagePDF(), uint16(0))
	f.Add(pageAt(pdfChunk-5), uint16(3))
	f.Add([]byte("/Type /Pages /Type/Page/Type\n/Page"), uint16(1))
	f.Add([]byte("/Type /P/Type /Page /Type//Page"), uint16(2))
	f.Fuzz(func(t *testing.T, pdf []byte, pad uint16) {
		pdf = append(make([]byte, int(pad)%(2*pdfChunk)), pdf...)
		pages, counted := pdfPages([]byte(b64(pdf)))
		want := decodedPDFPages(pdf)
		if counted != (want > 0) || counted && pages != want {
			t.Fatalf("pdfPages = %d, %t; the whole PDF has %d", pages, counted, want)
		}
		if !counted && pages != max(1, ceilDiv(int64(len(pdf)), pdfPageBytes)) {
			t.Fatalf("%d pages estimated for %d bytes", pages, len(pdf))
		}
	})
}

// Read decodes what ReadByte does, a byte at a time, whatever the size of
// the buffer it fills and whatever the base64 holds (escapes, line breaks,
// the URL alphabet, a character that ends it).
func FuzzBase64ReadIsReadByteByByte(f *testing.F) {
	f.Add([]byte(b64(threePagePDF())), uint8(3), uint16(1000))
	f.Add([]byte(`QUJD\r\nREVG\u0041QUFB\/w==`), uint8(2), uint16(30))
	f.Add([]byte("AAAAAAAA-_-_AAA!AAAA"), uint8(7), uint16(9))
	f.Fuzz(func(t *testing.T, s []byte, size uint8, left uint16) {
		var one []string
		if json.Unmarshal([]byte(`["`+string(s)+`"]`), &one) != nil || len(one) != 1 {
			return // not the contents of one JSON string
		}
		whole := base64Reader{s: s, left: int(left)}
		var want []byte
		for {
			c, err := whole.ReadByte()
			if err != nil {
				break
			}
			want = append(want, c)
		}
		buf := make([]byte, int(size)%40+1)
		r := base64Reader{s: s, left: int(left)}
		var got []byte
		for {
			n, err := r.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		if string(got) != string(want) {
			t.Fatalf("Read gives %x, ReadByte %x", got, want)
		}
	})
}

// The Responses API gives the model the text alone of a file that is no
// PDF (text, code, an office document, a spreadsheet): such a file is
// charged its bytes at four a token, where it was charged as a PDF of one
// page for each 50 KiB (1,565 tokens for 40,000 bytes of text, for
// 10,000). What tells a PDF is its header, not the type its data: URL
// claims.
func TestOpenAIChargesAFileThatIsNoPDFItsText(t *testing.T) {
	text := []byte(strings.Repeat("A line of a long text file.\n", 40_000/28))
	pdf := threePagePDF()
	page := openAIPageTokens("gpt-4.1", false)
	inline := func(mime string, b []byte) string {
		return `"filename":"f","file_data":"` + dataURL(mime, b) + `"`
	}
	tests := []struct {
		name string
		body string
		want int64
	}{
		{"text", responsesFileBody(inline("text/plain", text)), int64(len(text)+3) / 4},
		{"csv", responsesFileBody(inline("text/csv", []byte("a,b\n1,2\n3,4\n"))), 3},
		{"a PDF", responsesFileBody(inline("application/pdf", pdf)), 3 * page},
		{"a PDF of no stated type", responsesFileBody(inline("application/octet-stream", pdf)), 3 * page},
		{"a PDF after a few stray bytes", responsesFileBody(inline("application/pdf", append([]byte("\r\n\r\n"), pdf...))), 3 * page},
		{"text said to be a PDF", responsesFileBody(inline("application/pdf", text)), int64(len(text)+3) / 4},
		{"a chat file part", chatFileBody("gpt-4.1", `{"file_data":"`+dataURL("text/plain", text)+`"}`), int64(len(text)+3) / 4},
		{"a PDF at detail low: its pages' images at the base", responsesFileBody(inline("application/pdf", pdf) + `,"detail":"low"`), 3 * (85 + 800)},
		{"a file id at detail low", responsesFileBody(`"file_id":"file-abc","detail":"low"`), 85 + 800},
		{"a file id", responsesFileBody(`"file_id":"file-abc"`), page},
	}
	for _, tt := range tests {
		r := ParseRequest([]byte(tt.body))
		assert.Equal(t, tt.want, r.DocumentTokens, tt.name)
	}
}
