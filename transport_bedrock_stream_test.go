package ratellmiter

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventMessage encodes one message of an AWS event stream: its prelude
// (total length, headers length, their CRC), its string headers, its
// payload and the CRC of all that.
func eventMessage(headers [][2]string, payload []byte) []byte {
	var h bytes.Buffer
	for _, kv := range headers {
		h.WriteByte(byte(len(kv[0])))
		h.WriteString(kv[0])
		h.WriteByte(7) // a string
		_ = binary.Write(&h, binary.BigEndian, uint16(len(kv[1])))
		h.WriteString(kv[1])
	}
	var m bytes.Buffer
	_ = binary.Write(&m, binary.BigEndian, uint32(16+h.Len()+len(payload)))
	_ = binary.Write(&m, binary.BigEndian, uint32(h.Len()))
	_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
	m.Write(h.Bytes())
	m.Write(payload)
	_ = binary.Write(&m, binary.BigEndian, crc32.ChecksumIEEE(m.Bytes()))
	return m.Bytes()
}

// bedrockChunk is the event-stream message in which Amazon Bedrock sends
// one event of an Anthropic model's stream.
func bedrockChunk(event string) []byte {
	payload := `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(event)) + `","p":"abcdefgh"}`
	return eventMessage([][2]string{
		{":event-type", "chunk"}, {":content-type", "application/json"}, {":message-type", "event"},
	}, []byte(payload))
}

// bedrockStream is a whole answer of invoke-with-response-stream: 20 input
// tokens and 12 output tokens.
var bedrockStream = [][]byte{
	bedrockChunk(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022","content":[],"stop_reason":null,"usage":{"input_tokens":20,"output_tokens":1}}}`),
	bedrockChunk(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
	bedrockChunk(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello there, how are you?"}}`),
	bedrockChunk(`{"type":"content_block_stop","index":0}`),
	bedrockChunk(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":12}}`),
	bedrockChunk(`{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":20,"outputTokenCount":12,"invocationLatency":420,"firstByteLatency":180}}`),
}

// bedrockThrottled is the exception Amazon Bedrock ends a stream with when
// it throttles the call after the answer began.
var bedrockThrottled = eventMessage([][2]string{
	{":exception-type", "throttlingException"}, {":content-type", "application/json"}, {":message-type", "exception"},
}, []byte(`{"message":"Too many tokens, please wait before trying again."}`))

// Amazon Bedrock streams an Anthropic model's events inside an AWS event
// stream, binary messages whose chunks hold each event in base64. The
// transport reads the usage from them, as from Anthropic's own stream, and
// corrects the ticket's charge; a stream that ends without its
// message_stop (Bedrock throttled it midway) finishes its ticket and keeps
// its estimate.
func TestTransportCorrectsTheChargeOfABedrockStreamFromItsEvents(t *testing.T) {
	for _, tc := range []struct {
		name     string
		messages [][]byte
		refunded bool
	}{
		{"whole", bedrockStream, true},
		{"split in one-byte writes", bedrockStream, true},
		{"throttled midway", append(bedrockStream[:3:3], bedrockThrottled), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, base := h2Server(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
				w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
				for _, m := range tc.messages {
					if strings.HasPrefix(tc.name, "split") {
						for i := range m {
							_, _ = w.Write(m[i : i+1])
							w.(http.Flusher).Flush()
						}
						continue
					}
					_, _ = w.Write(m)
					w.(http.Flusher).Flush()
				}
			})
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, 600, WithTokensPerMinute(60000)) // 1,000 tokens a second
				client := tpTransport(t, base, WithLimiter(l)).Client()
				req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(
					`{"anthropic_version":"bedrock-2023-05-31","max_tokens":50000,"messages":[{"role":"user","content":"Say hello."}]}`))
				require.NoError(t, err)
				req.URL.Path, req.URL.RawPath = bedrockPath("anthropic.claude-3-5-haiku-20241022-v1:0", "invoke-with-response-stream")
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				require.NoError(t, err)
				got, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				require.Equal(t, bytes.Join(tc.messages, nil), got, "the caller reads the stream as it was sent")
				assert.Zero(t, l.Stats().InFlight, "the ticket is finished with the stream")

				// Charged its estimate of 50,000 output tokens, the budget
				// is in debt for most of a minute; charged its usage of 32
				// tokens, it has room a second later for 500 more.
				time.Sleep(time.Second)
				tk, ok := l.TryAcquire(WithTokens(500, 0))
				if ok {
					tk.Done()
				}
				assert.Equal(t, tc.refunded, ok, "the stream's usage replaced its estimate")
				assertConserved(t, l)
			})
		})
	}
}
