package signals

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ratellmiter/ratellmiter/internal/samples"
)

func benchStream(b *testing.B, stream []byte, chunk int) {
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		var s StreamUsage
		for p := stream; len(p) > 0; {
			n := min(chunk, len(p))
			_, _ = s.Write(p[:n])
			p = p[n:]
		}
		if !s.Usage().Known {
			b.Fatal("no usage")
		}
	}
}

func BenchmarkStreamUsage(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("openai/%d", n), func(b *testing.B) { benchStream(b, samples.OpenAIStream(n), 4096) })
		b.Run(fmt.Sprintf("anthropic/%d", n), func(b *testing.B) { benchStream(b, samples.AnthropicStream(n), 4096) })
		b.Run(fmt.Sprintf("gemini/%d", n), func(b *testing.B) { benchStream(b, samples.GeminiStream(n), 4096) })
	}
}

func BenchmarkParseRequest(b *testing.B) {
	for _, mb := range []int{1, 20} {
		for _, c := range []struct {
			name string
			body []byte
		}{
			{"chat", samples.ChatRequest(mb << 20)},
			{"image", samples.ImageRequest(mb << 20)},
		} {
			b.Run(fmt.Sprintf("%s/%dMB", c.name, mb), func(b *testing.B) {
				b.SetBytes(int64(len(c.body)))
				b.ReportAllocs()
				for b.Loop() {
					if ParseRequest(c.body).MaxTokens == 0 {
						b.Fatal("no max tokens")
					}
				}
			})
		}
	}
}

// BenchmarkParseRequestInlineImage reads a chat request carrying a real
// 1024x1024 PNG padded to 1 MB: its size is read from its header, not
// from the whole image.
func BenchmarkParseRequestInlineImage(b *testing.B) {
	img := append(encodedImage(b, "png", 1024, 1024), make([]byte, 1<<20)...)
	body := []byte(chatImageBody(dataURL("image/png", img), "high"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if ParseRequest(body).ImageTokens != 85+4*170 {
			b.Fatal("wrong image tokens")
		}
	}
}

// BenchmarkParseRequestPDF reads an Anthropic request carrying a PDF of
// three pages padded to 1 MiB, decoded whole as it streams through a small
// buffer to count its pages; and one of 1 MiB that shows no page object,
// whose pages are estimated from its size.
func BenchmarkParseRequestPDF(b *testing.B) {
	for name, pdf := range map[string][]byte{
		"counted":   append(threePagePDF(), make([]byte, 1<<20)...),
		"estimated": samples.CompressedPDF(1 << 20),
	} {
		body := []byte(anthropicDocumentBody(`{"type":"base64","media_type":"application/pdf","data":"` + b64(pdf) + `"}`))
		b.Run(name, func(b *testing.B) {
			benchParse(b, body, func(r Request) int64 { return r.DocumentTokens })
		})
	}
}

// benchParse measures ParseRequest of body, which must find tokens (as
// got reads them from the Request) other than 0.
func benchParse(b *testing.B, body []byte, got func(Request) int64) {
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if got(ParseRequest(body)) == 0 {
			b.Fatal("no tokens found")
		}
	}
}

// BenchmarkParseRequestMedia reads a Gemini request carrying 1 MiB of
// audio or video: an MP4 whose moov follows its mdat (the mdat's base64
// skipped, not decoded), a WAV whose data is skipped to its end, an MP3
// with no frame count whose frames are walked from header to header, and
// a file of unknown format whose length is counted.
func BenchmarkParseRequestMedia(b *testing.B) {
	for name, part := range map[string][]byte{
		"mp4":     samples.MP4(time.Minute, true, 1<<20),
		"wav":     samples.WAV(32*time.Second, 16000, 1, 16),
		"mp3":     samples.MP3(64*time.Second, 128, false),
		"unknown": make([]byte, 1<<20),
	} {
		body := []byte(geminiImageBody(`{"inlineData":{"mimeType":"video/mp4","data":"` + b64(part) + `"}}`))
		b.Run(name, func(b *testing.B) {
			benchParse(b, body, func(r Request) int64 { return r.MediaTokens })
		})
	}
}

func BenchmarkStreamUsageLargeEvents(b *testing.B) {
	for _, size := range []int{100 << 10, 800 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) { benchStream(b, samples.ImageStream(20, size), 16<<10) })
	}
}

// BenchmarkAnswerUsage reads an answer's usage whole (as ParseUsage
// does) and as it passes, in pieces of 4 KiB.
func BenchmarkAnswerUsage(b *testing.B) {
	for _, n := range []int{1, 100} {
		body := samples.EmbeddingsAnswer(n)
		for _, piece := range []int{len(body), 4 << 10} {
			name := fmt.Sprintf("embeddings/%dKB/whole", len(body)>>10)
			if piece < len(body) {
				name = fmt.Sprintf("embeddings/%dKB/pieces", len(body)>>10)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if !answerUsage(body, piece).Known {
						b.Fatal("no usage")
					}
				}
			})
		}
	}
}

// BenchmarkCachePrefixes reads the cache breakpoints of an Anthropic
// request of about 1 MB (a system prompt and 200 messages, the last with
// a breakpoint), beside ParseRequest on the same body.
func BenchmarkCachePrefixes(b *testing.B) {
	var body strings.Builder
	body.WriteString(`{"model":"claude-sonnet-4-5","max_tokens":100,"system":[{"type":"text","text":"` + strings.Repeat("A rule. ", 10_000) + `","cache_control":{"type":"ephemeral"}}],"messages":[`)
	for i := range 200 {
		if i > 0 {
			body.WriteByte(',')
		}
		cc := ""
		if i == 199 {
			cc = `,"cache_control":{"type":"ephemeral"}`
		}
		fmt.Fprintf(&body, `{"role":"%s","content":[{"type":"text","text":"%s"%s}]}`, []string{"user", "assistant"}[i%2], strings.Repeat("word ", 900), cc)
	}
	body.WriteString(`]}`)
	req := []byte(body.String())
	for name, f := range map[string]func(){
		"CachePrefixes": func() { _ = CachePrefixes(req) },
		"ParseRequest":  func() { _ = ParseRequest(req) },
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(req)))
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
	}
}
