package ratellmiter

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pdfOfPages returns a small valid PDF of n pages, each an empty US
// Letter page.
func pdfOfPages(n int) []byte {
	var b strings.Builder
	offsets := []int{}
	object := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n")
	object("<< /Type /Catalog /Pages 2 0 R >>")
	kids := make([]string, n)
	for i := range n {
		kids[i] = fmt.Sprintf("%d 0 R", i+3)
	}
	object(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n))
	for range n {
		object("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return []byte(b.String())
}

// A request with a PDF is charged its pages before the answer: a PDF of
// three pages sent to Anthropic costs 3 x 3,000 tokens (the top of the
// 1,500 to 3,000 a page Anthropic documents), which the estimate counted
// as none, so that a burst of PDF requests went out far beyond the token
// budget. The answer's usage then corrects the charge as for any request.
func TestTransportChargesThePagesOfAPDF(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(pdfOfPages(3))

	// The server holds each request until released, then answers with
	// a usage that counts the document, as Anthropic does.
	arrived, release := make(chan string, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		arrived <- string(body)
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5",`+
			`"content":[{"type":"text","text":"Three empty pages."}],"stop_reason":"end_turn","stop_sequence":null,`+
			`"usage":{"input_tokens":4521,"output_tokens":6}}`)
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	synctest.Test(t, func(t *testing.T) {
		defer base.CloseIdleConnections()
		released := false
		defer func() {
			if !released { // a failed check must not leave the server waiting
				close(release)
			}
		}()
		// 600,000 tokens a minute bank 10,000; time stands still while
		// the request is on the network, so the budget's level shows the
		// charge exactly.
		l := newLimiter(t, 600, WithTokensPerMinute(600_000))
		client := tpAnthropic(srv.URL, tpTransport(t, base, WithLimiter(l)))
		level := func() float64 {
			l.lock()
			defer l.mu.Unlock()
			return l.bud.tokens.level
		}
		full := level()
		done := make(chan error, 1)
		go func() {
			_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
				Model:     anthropic.ModelClaudeHaiku4_5,
				MaxTokens: 64,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
					anthropic.NewDocumentBlock(anthropic.Base64PDFSourceParam{Data: pdf}),
					anthropic.NewTextBlock("Summarize this PDF."),
				)},
			})
			done <- err
		}()

		var body string
		select {
		case body = <-arrived:
		case err := <-done:
			t.Fatalf("the request never reached the server: %v", err)
		}
		require.Contains(t, body, `"type":"document"`, "the SDK sent the document")
		require.Contains(t, body, pdf, "the SDK sent the PDF")
		// 3 pages at 3,000, 19 bytes of text (4) and one message (4) as
		// input, and 64 as output.
		assert.Equal(t, float64(3*3000+4+4+64), full-level(), "the charge before the answer")

		close(release)
		released = true
		require.NoError(t, <-done)
		assert.Equal(t, float64(4521+6), full-level(), "the charge corrected from the usage")
		assertSettled(t, l, 1)
	})
}

// A PDF whose page objects are compressed in object streams shows none to
// count: its pages are estimated from its size, one a 50 KiB, and their
// tokens are a bound, not a count. A 2 MiB one, 41 pages at 3,000 tokens,
// 123,000 between them, must not make a request "larger than the budget"
// of a limiter of 100,000 tokens a minute: it is charged the whole
// minute's budget instead, and the usage corrects it.
func TestTransportChargesPagesEstimatedFromAPDFsSizeAtMostTheBudget(t *testing.T) {
	raw := []byte("%PDF-1.7\n5 0 obj\n<< /Type /ObjStm /N 41 /First 300 /Filter /FlateDecode >>\nstream\n")
	rng := rand.New(rand.NewPCG(3, 4))
	for len(raw) < 2<<20 {
		c := byte(rng.Uint32())
		if c == '/' {
			c = '.'
		}
		raw = append(raw, c)
	}
	pdf := base64.StdEncoding.EncodeToString(raw)

	arrived, release := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5",`+
			`"content":[{"type":"text","text":"A report."}],"stop_reason":"end_turn","stop_sequence":null,`+
			`"usage":{"input_tokens":61544,"output_tokens":4}}`)
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	synctest.Test(t, func(t *testing.T) {
		defer base.CloseIdleConnections()
		released := false
		defer func() {
			if !released {
				close(release)
			}
		}()
		l := newLimiter(t, 600, WithTokensPerMinute(100_000))
		client := tpAnthropic(srv.URL, tpTransport(t, base, WithLimiter(l)))
		level := func() float64 {
			l.lock()
			defer l.mu.Unlock()
			return l.bud.tokens.level
		}
		full := level()
		done := make(chan error, 1)
		go func() {
			_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
				Model:     anthropic.ModelClaudeHaiku4_5,
				MaxTokens: 64,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
					anthropic.NewDocumentBlock(anthropic.Base64PDFSourceParam{Data: pdf}),
					anthropic.NewTextBlock("Summarize this PDF."),
				)},
			})
			done <- err
		}()

		select {
		case <-arrived:
		case err := <-done:
			t.Fatalf("the request never reached the server: %v", err)
		}
		assert.Equal(t, 100_000.0, full-level(), "the charge before the answer: the minute's budget, not 123,072 tokens")

		close(release)
		released = true
		require.NoError(t, <-done)
		assert.InDelta(t, 61_548.0, full-level(), 1e-6, "the charge corrected from the usage")
		assertSettled(t, l, 1)
	})
}
