package ratellmiter

import (
	"bytes"
	"context"
	"testing"
	"testing/synctest"

	openaioption "github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

// The SDKs' GetBody for a body given as a *bytes.Reader
// (option.WithRequestBody) rewinds that very reader and hands it back
// rather than a copy: reading it for the model or the token estimate must
// not leave the request to be sent with an empty body.
func TestTransportReadsABodyWhoseGetBodySharesTheReader(t *testing.T) {
	const raw = `{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	cases := map[string]func(t *testing.T) []TransportOption{
		"token budget": func(t *testing.T) []TransportOption {
			return []TransportOption{WithLimiter(newLimiter(t, 600, WithTokensPerMinute(60000)))}
		},
		"token budget, body over the bound": func(t *testing.T) []TransportOption {
			return []TransportOption{WithLimiter(newLimiter(t, 600, WithTokensPerMinute(60000))), WithMaxBodyBytes(20)}
		},
		"service limiters": func(t *testing.T) []TransportOption {
			m := NewMonitor()
			t.Cleanup(func() { m.Stop() })
			svc := NewService("fake", nil)
			_, err := svc.NewLimiter("gpt-4o-mini", 600, WithMonitor(m))
			require.NoError(t, err)
			return []TransportOption{WithServiceLimiters(svc)}
		},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := tpProvider(t, fakeprovider.Config{RPM: 600})
				client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), opts(t)...))
				_, err := client.Chat.Completions.New(context.Background(), tpChat("ignored"),
					openaioption.WithRequestBody("application/json", bytes.NewReader([]byte(raw))))
				require.NoError(t, err)
				assert.Equal(t, 1, s.Stats().Accepted)
			})
		})
	}
}
