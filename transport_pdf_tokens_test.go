package ratellmiter

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/ratellmiter/ratellmiter/internal/samples"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// askAboutPDF sends Anthropic a message with the PDF (in base64) and a
// question about it.
func askAboutPDF(client anthropic.Client, pdf string) error {
	_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     anthropic.ModelClaudeHaiku4_5,
		MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(
			anthropic.NewDocumentBlock(anthropic.Base64PDFSourceParam{Data: pdf}),
			anthropic.NewTextBlock("Summarize this PDF."),
		)},
	})
	return err
}

// A request with a PDF is charged its pages before the answer: a PDF of
// three pages sent to Anthropic costs 3 x 3,000 tokens (the top of the
// 1,500 to 3,000 a page Anthropic documents), which the estimate counted
// as none, so that a burst of PDF requests went out far beyond the token
// budget. The answer's usage then corrects the charge as for any request.
func TestTransportChargesThePagesOfAPDF(t *testing.T) {
	pdf := base64.StdEncoding.EncodeToString(samples.PagesPDF(3))

	// The server answers with a usage that counts the document, as
	// Anthropic does. 600,000 tokens a minute bank 10,000.
	c := chargeOfHeldCall(t, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5",`+
		`"content":[{"type":"text","text":"Three empty pages."}],"stop_reason":"end_turn","stop_sequence":null,`+
		`"usage":{"input_tokens":4521,"output_tokens":6}}`,
		[]Option{WithTokensPerMinute(600_000)}, func(baseURL string, rt http.RoundTripper) error {
			return askAboutPDF(tpAnthropic(baseURL, rt), pdf)
		})
	require.Contains(t, c.body, `"type":"document"`, "the SDK sent the document")
	require.Contains(t, c.body, pdf, "the SDK sent the PDF")
	// 3 pages at 3,000, 19 bytes of text (4) and one message (4) as
	// input, and 64 as output.
	assert.Equal(t, float64(3*3000+4+4+64), c.before, "the charge before the answer")
	assert.Equal(t, float64(4521+6), c.after, "the charge corrected from the usage")
}

// What a PDF costs is a bound, not a count: the most its provider gives
// for a page (Anthropic's range is 1,500 to 3,000 tokens), for each page
// counted or, where its page objects are compressed in object streams
// and show none, estimated from its size, one a 50 KiB. So a PDF of 40
// pages (120,000 tokens), or a 2 MiB one whose pages are estimated (41,
// 123,000 tokens), must not make a request "larger than the budget" of a
// limiter of 100,000 tokens a minute, which refused the first at once
// with ErrExceedsBudget: each is charged the whole minute's budget
// instead, and the usage corrects it.
func TestTransportChargesAPDFAtMostTheBudget(t *testing.T) {
	for name, raw := range map[string][]byte{
		"pages counted":   samples.PagesPDF(40),
		"pages estimated": samples.CompressedPDF(2 << 20),
	} {
		t.Run(name, func(t *testing.T) {
			pdf := base64.StdEncoding.EncodeToString(raw)
			c := chargeOfHeldCall(t, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5",`+
				`"content":[{"type":"text","text":"A report."}],"stop_reason":"end_turn","stop_sequence":null,`+
				`"usage":{"input_tokens":61544,"output_tokens":4}}`,
				[]Option{WithTokensPerMinute(100_000)}, func(baseURL string, rt http.RoundTripper) error {
					return askAboutPDF(tpAnthropic(baseURL, rt), pdf)
				})
			assert.Equal(t, 100_000.0, c.before, "the charge before the answer: the minute's budget")
			assert.InDelta(t, 61_548.0, c.after, 1e-6, "the charge corrected from the usage")
		})
	}
}
