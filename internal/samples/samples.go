// Package samples makes the request bodies, JSON answers and event
// streams of the providers' APIs, at any size, that the tests and
// benchmarks of the transport and of its parsers feed them.
package samples

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
)

// OpenAIStream returns an OpenAI chat stream of n content chunks with
// stream_options.include_usage, as the API sends it: every chunk carries
// "usage":null, the last one the usage.
func OpenAIStream(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `data: {"id":"chatcmpl-B9","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":" word%d"},"logprobs":null,"finish_reason":null}],"usage":null}`+"\n\n", i)
	}
	b.WriteString(`data: {"id":"chatcmpl-B9","object":"chat.completion.chunk","created":1727000000,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":` + fmt.Sprint(n) + `,"total_tokens":` + fmt.Sprint(n+10) + `}}` + "\n\ndata: [DONE]\n\n")
	return b.Bytes()
}

// AnthropicStream returns an Anthropic message stream of n text deltas in
// blocks of 100.
func AnthropicStream(n int) []byte {
	var b bytes.Buffer
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n")
	for i := range n {
		if i%100 == 0 {
			fmt.Fprintf(&b, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n", i/100)
		}
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":%d,\"delta\":{\"type\":\"text_delta\",\"text\":\" word%d\"}}\n\n", i/100, i)
		if i%100 == 99 || i == n-1 {
			fmt.Fprintf(&b, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":%d}\n\n", i/100)
		}
	}
	fmt.Fprintf(&b, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":%d}}\n\n", n)
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return b.Bytes()
}

// GeminiStream returns a Gemini SSE stream of n chunks, each with its
// running usageMetadata.
func GeminiStream(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `data: {"candidates":[{"content":{"parts":[{"text":" word%d"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":%d,"totalTokenCount":%d},"modelVersion":"gemini-2.5-flash","responseId":"abc"}`+"\r\n\r\n", i, i+1, i+11)
	}
	return b.Bytes()
}

// EmbeddingsAnswer returns an OpenAI embeddings answer of n vectors of
// 1536 numbers: some 30 KB of JSON a vector, the usage at the end.
func EmbeddingsAnswer(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"object":"embedding","index":%d,"embedding":[`, i)
		for j := range 1536 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%.9f", float64((i*1536+j)%1000)/-1234.5)
		}
		b.WriteString("]}")
	}
	b.WriteString(`],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}`)
	return b.Bytes()
}

// ChatRequest returns a chat request of about size bytes: a conversation
// of messages of 4 KB of text each.
func ChatRequest(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"gpt-4o","max_completion_tokens":1000,"messages":[`)
	text := strings.Repeat(`Lorem ipsum dolor sit amet, \"quoted\" text.\n `, 4096/48)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"role":"user","content":"%s"}`, text)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// ImageRequest returns a chat request carrying one base64 image of about
// size bytes.
func ImageRequest(size int) []byte {
	return []byte(`{"model":"gpt-4o","max_tokens":300,"messages":[{"role":"user","content":[{"type":"text","text":"What is in this image?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("iVBORw0KGgo", size/11) + `"}}]}]}`)
}

// ImageStream returns a Responses API stream of n partial images of
// size bytes of base64 each, then the completed response with its usage.
func ImageStream(n, size int) []byte {
	var b bytes.Buffer
	img := strings.Repeat("iVBORw0KGgo", size/11)
	for i := range n {
		fmt.Fprintf(&b, "event: response.image_generation_call.partial_image\ndata: {\"type\":\"response.image_generation_call.partial_image\",\"output_index\":0,\"item_id\":\"ig_1\",\"sequence_number\":%d,\"partial_image_index\":%d,\"partial_image_b64\":\"%s\"}\n\n", i, i, img)
	}
	b.WriteString("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":20,\"output_tokens\":1500,\"total_tokens\":1520}}}\n\n")
	return b.Bytes()
}

// PDF returns a PDF whose numbered objects are objects, in order (object
// 1 is the catalog), with the cross-reference table and trailer a reader
// needs.
func PDF(objects ...string) []byte {
	var b strings.Builder
	b.WriteString("%PDF-1.4\n%\xff\xff\xff\xff\n") // a binary file, its comment says
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return []byte(b.String())
}

// PagesPDF returns a PDF of n empty US Letter pages.
func PagesPDF(n int) []byte {
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", i+3)
	}
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n),
	}
	for range n {
		objects = append(objects, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
	}
	return PDF(objects...)
}

// CompressedPDF returns a PDF of size bytes whose page objects are
// compressed in an object stream (random bytes stand for the stream): no
// /Type /Page shows in its bytes.
func CompressedPDF(size int) []byte {
	b := []byte("%PDF-1.7\n1 0 obj\n<< /Type /ObjStm /N 5 /First 30 /Filter /FlateDecode /Length 99 >>\nstream\n")
	rng := rand.New(rand.NewPCG(1, 2))
	for len(b) < size-40 {
		c := byte(rng.Uint32())
		if c == '/' {
			c = 0
		}
		b = append(b, c)
	}
	b = append(b, "\nendstream\nendobj\n"...)
	for len(b) < size {
		b = append(b, '\n')
	}
	return b
}
