package signals

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testImages caches the encoded test images, some of which are large.
var testImages sync.Map

// encodedImage returns a w by h image encoded in format ("png", "jpeg" or
// "gif").
func encodedImage(t testing.TB, format string, w, h int) []byte {
	t.Helper()
	key := fmt.Sprintf("%s/%dx%d", format, w, h)
	if b, ok := testImages.Load(key); ok {
		return b.([]byte)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i / 7)
	}
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, img)
	case "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 10})
	case "gif":
		err = gif.Encode(&buf, img, nil)
	}
	require.NoError(t, err)
	testImages.Store(key, buf.Bytes())
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func dataURL(mime string, b []byte) string { return "data:" + mime + ";base64," + b64(b) }

func webpFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webp", name))
	require.NoError(t, err)
	return b
}

// The request shapes that carry an image.
func chatImageBody(url, detail string) string {
	d := ""
	if detail != "" {
		d = `,"detail":"` + detail + `"`
	}
	return `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"` + url + `"` + d + `}}]}]}`
}

func responsesImageBody(url, detail string) string {
	return `{"model":"gpt-4.1","input":[{"role":"user","content":[{"type":"input_text","text":"What is this?"},{"type":"input_image","image_url":"` + url + `","detail":"` + detail + `"}]}]}`
}

func anthropicImageBody(source string) string {
	return `{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":[{"type":"image","source":` + source + `},{"type":"text","text":"What is this?"}]}]}`
}

func geminiImageBody(part string) string {
	return `{"contents":[{"role":"user","parts":[{"text":"What is this?"},` + part + `]}]}`
}

func TestImageTokensFollowTheProvidersRules(t *testing.T) {
	tests := []struct {
		rule imageRule
		w, h int
		want int64
	}{
		// OpenAI: fit in 2048x2048, shortest side at most 768, 85 + 170 a
		// 512 px tile.
		{imageOpenAI, 100, 100, 85 + 170},
		{imageOpenAI, 512, 512, 85 + 170},
		{imageOpenAI, 513, 512, 85 + 2*170},
		{imageOpenAI, 1024, 1024, 85 + 4*170}, // 768x768
		{imageOpenAI, 2048, 4096, 85 + 6*170}, // 1024x2048, 768x1536
		{imageOpenAI, 4000, 3000, 85 + 4*170}, // 2048x1536, 1024x768
		{imageOpenAI, 300, 5000, 85 + 4*170},  // 122x2048
		{imageOpenAI, 768, 2048, 85 + 8*170},  // the most tiles
		{imageOpenAI, 1 << 30, 1, 85 + 4*170}, // 2048x1
		{imageOpenAILow, 4000, 3000, 85},      // low detail: one size
		{imageOpenAI, 0, 0, 85 + 8*170},       // unknown
		{imageOpenAILow, 0, 0, 85},            // unknown, low detail
		{imageOpenAI, -1, 100, 85 + 8*170},    // unknown
		// Anthropic: long edge at most 1568, width*height/750, at most 1600.
		{imageAnthropic, 100, 100, 14},
		{imageAnthropic, 1000, 1000, 1334},
		{imageAnthropic, 1024, 1024, 1399},
		{imageAnthropic, 1092, 1092, 1590},
		{imageAnthropic, 4000, 3000, 1600}, // 1568x1176, scaled down to ~1600
		{imageAnthropic, 300, 5000, 197},   // 94x1568
		{imageAnthropic, 0, 0, 1600},
		// Gemini: 258 a 768 px tile once in 3072x3072, at least 1120.
		{imageGemini, 100, 100, 1120},
		{imageGemini, 1024, 1024, 1120}, // 4 tiles, 1032
		{imageGemini, 1920, 1080, 6 * 258},
		{imageGemini, 4000, 3000, 12 * 258}, // 3072x2304
		{imageGemini, 300, 5000, 1120},      // 184x3072, 4 tiles
		{imageGemini, 1 << 30, 1 << 30, 16 * 258},
		{imageGemini, 0, 0, 16 * 258},
	}
	for _, tc := range tests {
		got := imageTokens(tc.rule, tc.w, tc.h, tc.w > 0 && tc.h > 0)
		assert.Equal(t, tc.want, got, "rule %+v, %dx%d", tc.rule, tc.w, tc.h)
		assert.LessOrEqual(t, got, imageTokens(tc.rule, 0, 0, false), "no image costs more than one of unknown size")
	}
}

// OpenAI's models count an image by rules of their own: tiles at a base
// and tile cost of their own, or 32 px patches times a factor, detail
// notwithstanding.
func TestOpenAIImageRulesFollowTheModel(t *testing.T) {
	tests := []struct {
		model string
		low   bool
		w, h  int
		want  int64
	}{
		{"gpt-4o", false, 1024, 1024, 85 + 4*170},
		{"gpt-4o-2024-08-06", true, 1024, 1024, 85},
		{"gpt-4.1", false, 1024, 1024, 85 + 4*170},
		{"chatgpt-4o-latest", false, 0, 0, 85 + 8*170},
		{"", false, 1024, 1024, 85 + 4*170}, // no model: gpt-4o's rule
		{"gpt-4o-mini", false, 1024, 1024, 2833 + 4*5667},
		{"gpt-4o-mini-2024-07-18", true, 1024, 1024, 2833},
		{"gpt-4o-mini", false, 0, 0, 2833 + 8*5667},
		{"gpt-5", false, 1024, 1024, 70 + 4*140},
		{"gpt-5-chat-latest", true, 1024, 1024, 70},
		{"o3", false, 1024, 1024, 75 + 4*150},
		{"o1-pro", false, 0, 0, 75 + 8*150},
		{"computer-use-preview", false, 1024, 1024, 65 + 4*129},
		// Patches: ceil(w/32)*ceil(h/32), at most 1536, times the factor.
		{"gpt-4.1-mini", false, 1024, 1024, 1659}, // 1024 * 1.62 = 1658.88
		{"gpt-4.1-mini", true, 1024, 1024, 1659},  // detail does not change it
		{"gpt-4.1-nano", false, 100, 100, 40},     // 16 * 2.46 = 39.36
		{"gpt-5-mini", false, 0, 0, 2489},         // 1536 * 1.62 = 2488.32
		{"gpt-5-nano", false, 33, 32, 5},          // 2 * 2.46 = 4.92
		{"o4-mini", false, 4000, 3000, 2642},      // 1536 * 1.72 = 2641.92
		{"o4-mini", false, 1 << 30, 1 << 30, 2642},
	}
	for _, tc := range tests {
		rule := openAIImageRule(tc.model, tc.low)
		got := imageTokens(rule, tc.w, tc.h, tc.w > 0 && tc.h > 0)
		assert.Equal(t, tc.want, got, "%s (low %t), %dx%d", tc.model, tc.low, tc.w, tc.h)
		assert.LessOrEqual(t, got, imageTokens(rule, 0, 0, false), "no image costs more than one of unknown size")
	}
	png := encodedImage(t, "png", 1024, 1024)
	body := strings.Replace(chatImageBody(dataURL("image/png", png), "high"), `"gpt-4o"`, `"gpt-4o-mini"`, 1)
	assert.Equal(t, int64(2833+4*5667), ParseRequest([]byte(body)).ImageTokens, "the body's model decides")
	assert.Equal(t, ParseRequest([]byte(body)), decodedParseRequest([]byte(body)), "the reference agrees")
}

// base64 wrapped in lines of 76 characters, as MIME writes it, is read
// across its line breaks: a JPEG's size comes after its first line.
func TestWrappedBase64IsReadAcrossItsLineBreaks(t *testing.T) {
	jpeg := encodedImage(t, "jpeg", 1024, 1024)
	plain := b64(jpeg)
	var wrapped strings.Builder
	for i := 0; i < len(plain); i += 76 {
		wrapped.WriteString(plain[i:min(i+76, len(plain))])
		wrapped.WriteString(`\r\n`) // escaped, as JSON has them
	}
	for _, url := range []string{"data:image/jpeg;base64," + plain, "data:image/jpeg;base64," + wrapped.String()} {
		body := []byte(chatImageBody(url, "high"))
		r := ParseRequest(body)
		assert.Equal(t, int64(85+4*170), r.ImageTokens, "a 1024x1024 image, not one of unknown size")
		assert.Equal(t, decodedParseRequest(body), r, "the reference agrees")
	}
}

func TestImageSizeIsReadFromTheHeader(t *testing.T) {
	type file struct {
		name string
		data []byte
		w, h int
	}
	files := []file{
		{"webp lossy", webpFixture(t, "lossy.webp"), 150, 100},
		{"webp lossless", webpFixture(t, "lossless.webp"), 75, 100},
		{"webp extended", webpFixture(t, "alpha.webp"), 400, 301},
	}
	for _, format := range []string{"png", "jpeg", "gif"} {
		for _, size := range [][2]int{{100, 100}, {1024, 1024}, {300, 5000}} {
			files = append(files, file{format, encodedImage(t, format, size[0], size[1]), size[0], size[1]})
		}
	}
	for _, f := range files {
		w, h, ok := imageSize(f.data[:min(len(f.data), imageHeadLen)], bytes.NewReader(f.data))
		assert.True(t, ok, f.name)
		assert.Equal(t, [2]int{f.w, f.h}, [2]int{w, h}, f.name)
		// A truncated header is no size.
		for _, n := range []int{0, 5, 15, 20} {
			cut := f.data[:n]
			_, _, ok := imageSize(cut, bytes.NewReader(cut))
			assert.False(t, ok, "%s cut at %d", f.name, n)
		}
	}
	for _, bad := range []string{"", "\x89PNG\r\n\x1a\n", "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDX", "\xff\xd8\xff", "GIF89a\x01", "RIFF\x00\x00\x00\x00WEBPVP8 ", "BM not an image"} {
		_, _, ok := imageSize([]byte(bad), strings.NewReader(bad))
		assert.False(t, ok, "%q", bad)
	}
}

func TestRequestCountsImageTokens(t *testing.T) {
	png100 := encodedImage(t, "png", 100, 100)
	png1024 := encodedImage(t, "png", 1024, 1024)
	jpeg4000 := encodedImage(t, "jpeg", 4000, 3000)
	gif300 := encodedImage(t, "gif", 300, 5000)
	webp := webpFixture(t, "alpha.webp") // 400x301
	// A PNG whose header says 100000x100000 pixels: a constant cost.
	huge := append([]byte(nil), png100[:33]...)
	copy(huge[16:], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	binary.BigEndian.PutUint32(huge[29:], crc32.ChecksumIEEE(huge[12:29]))
	// A JPEG whose size comes after a 40 KB, or a 64 KB, segment: the
	// first is read, the second lies beyond the bound.
	jpegAfter := func(n int) []byte {
		seg := append([]byte{0xff, 0xd8, 0xff, 0xe1, byte((n + 2) >> 8), byte(n + 2)}, make([]byte, n)...)
		return append(seg, jpeg4000[2:]...)
	}
	tests := []struct {
		name string
		body string
		want int64
	}{
		{"chat png auto", chatImageBody(dataURL("image/png", png1024), "auto"), 85 + 4*170},
		{"chat png no detail", chatImageBody(dataURL("image/png", png100), ""), 85 + 170},
		{"chat png high", chatImageBody(dataURL("image/png", png1024), "high"), 85 + 4*170},
		{"chat png low", chatImageBody(dataURL("image/png", png1024), "low"), 85},
		{"chat jpeg", chatImageBody(dataURL("image/jpeg", jpeg4000), "high"), 85 + 4*170},
		{"chat gif", chatImageBody(dataURL("image/gif", gif300), "auto"), 85 + 4*170},
		{"chat webp", chatImageBody(dataURL("image/webp", webp), "auto"), 85 + 170},
		{"chat url", chatImageBody("https://example.com/cat.png", "auto"), 85 + 8*170},
		{"chat url low", chatImageBody("https://example.com/cat.png", "low"), 85},
		{"chat data url with parameters", chatImageBody("DATA:image/png;name=a.png;BASE64,"+b64(png1024), ""), 85 + 4*170},
		{"chat data url not base64", chatImageBody("data:image/svg+xml,%3Csvg%3E", ""), 85 + 8*170},
		{"chat malformed base64", chatImageBody("data:image/png;base64,!!!!", ""), 85 + 8*170},
		{"chat truncated header", chatImageBody(dataURL("image/png", png1024[:20]), ""), 85 + 8*170},
		{"chat header of a huge png", chatImageBody(dataURL("image/png", huge), ""), 85 + 4*170},
		{"chat size within the bound", chatImageBody(dataURL("image/jpeg", jpegAfter(40<<10)), ""), 85 + 4*170},
		{"chat size beyond the bound", chatImageBody(dataURL("image/jpeg", jpegAfter(65000)), ""), 85 + 8*170},
		{"chat base64 url alphabet", chatImageBody("data:image/png;base64,"+base64.RawURLEncoding.EncodeToString(png1024), ""), 85 + 4*170},
		{"chat escaped base64", chatImageBody(strings.NewReplacer("/", `\/`, "A", `\u0041`).Replace(dataURL("image/png", png1024)), ""), 85 + 4*170},
		{"chat image_url not an object", `{"messages":[{"content":[{"type":"image_url","image_url":"https://example.com/a.png"}]}]}`, 85 + 8*170},
		{"responses png", responsesImageBody(dataURL("image/png", png1024), "auto"), 85 + 4*170},
		{"responses low", responsesImageBody(dataURL("image/png", png1024), "low"), 85},
		{"responses file id", `{"input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}`, 85 + 8*170},
		{"anthropic png", anthropicImageBody(`{"type":"base64","media_type":"image/png","data":"` + b64(png1024) + `"}`), 1399},
		{"anthropic jpeg", anthropicImageBody(`{"type":"base64","media_type":"image/jpeg","data":"` + b64(jpeg4000) + `"}`), 1600},
		{"anthropic gif", anthropicImageBody(`{"type":"base64","media_type":"image/gif","data":"` + b64(gif300) + `"}`), 197},
		{"anthropic webp", anthropicImageBody(`{"type":"base64","media_type":"image/webp","data":"` + b64(webp) + `"}`), 161},
		{"anthropic url", anthropicImageBody(`{"type":"url","url":"https://example.com/cat.png"}`), 1600},
		{"anthropic file", anthropicImageBody(`{"type":"file","file_id":"file_1"}`), 1600},
		{"anthropic malformed base64", anthropicImageBody(`{"type":"base64","media_type":"image/png","data":"%%%%"}`), 1600},
		{"anthropic image in a tool result", `{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + b64(png100) + `"}}]}]}]}`, 14},
		{"gemini inlineData png", geminiImageBody(`{"inlineData":{"mimeType":"image/png","data":"` + b64(png1024) + `"}}`), 1120},
		{"gemini inline_data jpeg", geminiImageBody(`{"inline_data":{"mime_type":"image/jpeg","data":"` + b64(jpeg4000) + `"}}`), 12 * 258},
		{"gemini inlineData gif", geminiImageBody(`{"inlineData":{"mimeType":"IMAGE/GIF","data":"` + b64(gif300) + `"}}`), 1120},
		{"gemini fileData image", geminiImageBody(`{"fileData":{"mimeType":"image/jpeg","fileUri":"https://generativelanguage.googleapis.com/v1beta/files/a"}}`), 16 * 258},
		{"gemini file_data image", geminiImageBody(`{"file_data":{"mime_type":"image/png","file_uri":"gs://b/a.png"}}`), 16 * 258},
		{"gemini malformed base64", geminiImageBody(`{"inlineData":{"mimeType":"image/png","data":"@@@@"}}`), 16 * 258},
		{"gemini pdf is no image", geminiImageBody(`{"inlineData":{"mimeType":"application/pdf","data":"JVBERi0x"}}`), 0},
		{"gemini audio file is no image", geminiImageBody(`{"fileData":{"mimeType":"audio/mp3","fileUri":"gs://b/a.mp3"}}`), 0},
		{"gemini system instruction image", `{"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"` + b64(png100) + `"}}]}}`, 1120},
		{"images add up", `{"messages":[{"role":"user","content":[` +
			`{"type":"image_url","image_url":{"url":"` + dataURL("image/png", png100) + `"}},` +
			`{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}},` +
			`{"type":"image_url","image_url":{"url":"` + dataURL("image/png", png1024) + `"}}]}]}`, (85 + 170) + 85 + (85 + 4*170)},
		{"no image", `{"messages":[{"role":"user","content":[{"type":"text","text":"image_url"}]}]}`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ParseRequest([]byte(tc.body))
			assert.Equal(t, tc.want, r.ImageTokens)
			assert.Equal(t, decodedParseRequest([]byte(tc.body)), r, "the decoding reference agrees")
		})
	}
}

func TestEstimateInputTokensCountsImages(t *testing.T) {
	r := Request{PromptChars: 40, Messages: 1, ImageTokens: 765}
	assert.Equal(t, int64(10+PerMessageTokens+765), r.EstimateInputTokens())
	assert.Equal(t, int64(100+10+PerMessageTokens+765), Request{MaxTokens: 100, PromptChars: 40, Messages: 1, ImageTokens: 765}.EstimateTokens())
	assert.Equal(t, int64(math.MaxInt64), Request{PromptChars: 4, ImageTokens: math.MaxInt64}.EstimateInputTokens(), "saturates")
	assert.Equal(t, int64(1), Request{PromptChars: 4, ImageTokens: -5}.EstimateInputTokens(), "a negative count is ignored")

	body := chatImageBody(dataURL("image/png", encodedImage(t, "png", 1024, 1024)), "")
	text := ParseRequest([]byte(strings.Replace(body, `"type":"image_url"`, `"type":"text"`, 1)))
	assert.Equal(t, text.EstimateInputTokens()+85+4*170, ParseRequest([]byte(body)).EstimateInputTokens())
}

// An inline image's size is read from at most the first 64 KiB of its
// base64: a request with a 1 MB image allocates no more than a few
// hundred bytes for it.
func TestInlineImageIsNotReadWhole(t *testing.T) {
	img := append(encodedImage(t, "png", 1024, 1024), make([]byte, 1<<20)...)
	body := []byte(chatImageBody(dataURL("image/png", img), "high"))
	got, allocated := parsedAllocating(body)
	assert.Equal(t, int64(85+4*170), got.ImageTokens)
	assert.Less(t, allocated, int64(4<<10))
}

func TestUnsizedImageTokensAreTheBoundOfImagesOfUnknownSize(t *testing.T) {
	png1024 := encodedImage(t, "png", 1024, 1024)
	tests := []struct {
		name          string
		body          string
		tokens, bound int64
	}{
		{"a png read from its header", chatImageBody(dataURL("image/png", png1024), ""), 85 + 4*170, 0},
		{"a url", chatImageBody("https://example.com/cat.png", ""), 85 + 8*170, 85 + 8*170},
		{"a url at detail low costs the same whatever its size", chatImageBody("https://example.com/cat.png", "low"), 85, 0},
		{"an unreadable header", chatImageBody("data:image/png;base64,!!!!", ""), 85 + 8*170, 85 + 8*170},
		{"a patch model's url", `{"model":"gpt-4.1-mini","messages":[{"content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png","detail":"low"}}]}]}`, 2489, 2489},
		{"an anthropic url", anthropicImageBody(`{"type":"url","url":"https://example.com/cat.png"}`), 1600, 1600},
		{"a gemini file", geminiImageBody(`{"fileData":{"mimeType":"image/png","fileUri":"gs://b/a.png"}}`), 16 * 258, 16 * 258},
		{"only the images of unknown size", `{"messages":[{"role":"user","content":[` +
			`{"type":"image_url","image_url":{"url":"` + dataURL("image/png", png1024) + `"}},` +
			`{"type":"image_url","image_url":{"url":"https://example.com/a.png"}},` +
			`{"type":"image_url","image_url":{"url":"https://example.com/b.png","detail":"low"}}]}]}`,
			(85 + 4*170) + (85 + 8*170) + 85, 85 + 8*170},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ParseRequest([]byte(tc.body))
			assert.Equal(t, tc.tokens, r.ImageTokens)
			assert.Equal(t, tc.bound, r.UnsizedImageTokens)
			assert.Equal(t, decodedParseRequest([]byte(tc.body)), r, "the decoding reference agrees")
		})
	}
}
