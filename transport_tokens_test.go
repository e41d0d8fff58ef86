package ratellmiter

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/openai/openai-go/v3"
	openaishared "github.com/openai/openai-go/v3/shared"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/fakeprovider"
)

func TestTransportTokenBudgetChargesEstimateAndReconcilesUsage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The server allows 12,000 tokens a minute. Each call asks for up
		// to 100 output tokens but the answers are 12 tokens long.
		s := tpProvider(t, fakeprovider.Config{RPM: 600, TPM: 12000})
		l := newLimiter(t, 600, WithTokensPerMinute(12000))
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		params := tpChat("gpt-4o-mini")
		params.MaxCompletionTokens = openai.Int(100)
		start := time.Now()

		errs := runParallel(10, 200, func() error {
			_, err := client.Chat.Completions.New(context.Background(), params)
			return err
		})

		require.Empty(t, errs)
		st := s.Stats()
		assert.Equal(t, 200, st.Accepted)
		assert.Zero(t, st.Rejected429, "the token budget is never overrun")
		// Charged at the estimate alone (about 106 tokens), 200 calls
		// would need almost two minutes of budget; corrected to the usage
		// (about 18), they are bound by 600 RPM instead.
		assert.Less(t, time.Since(start), 30*time.Second)
		assertSettled(t, l, 200)
	})
}

func TestTransportSplitTokenBudgetsWithAnthropicStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 6000, InputTPM: 2000, OutputTPM: 4000})
		l := newLimiter(t, 6000, WithInputTokensPerMinute(2000), WithOutputTokensPerMinute(4000))
		client := tpAnthropic(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		params := tpMessage()
		params.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(strings.Repeat("word ", 80)))}

		errs := runParallel(5, 60, func() error {
			st := client.Messages.NewStreaming(context.Background(), params)
			var msg anthropic.Message
			for st.Next() {
				if err := msg.Accumulate(st.Current()); err != nil {
					return err
				}
			}
			if err := errors.Join(st.Err(), st.Close()); err != nil {
				return err
			}
			if len(msg.Content) != 1 {
				return errors.New("no content")
			}
			return nil
		})

		require.Empty(t, errs)
		assert.Equal(t, 60, s.Stats().Accepted)
		assert.Zero(t, s.Stats().Rejected429, "input and output budgets both held")
		// About 105 input tokens a call: the input budget binds, 60
		// calls need a little over two minutes of it.
		assertSettled(t, l, 60)
		sl := l.Stats().Server
		assert.True(t, sl.InputTokens.Known && sl.OutputTokens.Known, "the server's budgets are in Stats: %+v", sl)
		assert.EqualValues(t, 2000, sl.InputTokens.Limit)
	})
}

// A request the token budget can never hold is refused at once, and
// nothing is sent. What the estimate counts is what the provider counts.
func TestTransportRefusesAtOnceARequestTheTokenBudgetCannotHold(t *testing.T) {
	openAI := func(tune func(*openai.ChatCompletionNewParams)) func(*Transport) error {
		return func(tr *Transport) error {
			params := tpChat("gpt-4o-mini")
			tune(&params)
			client := tpOpenAI(fakeURL, tr)
			_, err := client.Chat.Completions.New(context.Background(), params)
			return err
		}
	}
	claude := func(messages ...anthropic.MessageParam) func(*Transport) error {
		return func(tr *Transport) error {
			params := tpMessage()
			params.Messages = messages
			client := tpAnthropic(fakeURL, tr)
			_, err := client.Messages.New(context.Background(), params)
			return err
		}
	}
	for _, tc := range []struct {
		name   string
		cfg    fakeprovider.Config
		budget Option
		send   func(*Transport) error
		says   string // what the error names, if anything
	}{
		{
			name: "max tokens larger than the budget", cfg: fakeprovider.Config{RPM: 600, TPM: 1000},
			budget: WithTokensPerMinute(1000),
			send:   openAI(func(p *openai.ChatCompletionNewParams) { p.MaxCompletionTokens = openai.Int(5000) }),
		},
		{
			// OpenAI counts n completions of up to max_tokens each
			// against the budget: three of 400 tokens need 1,200.
			name: "every completion asked for", cfg: fakeprovider.Config{RPM: 600},
			budget: WithTokensPerMinute(1000),
			send: openAI(func(p *openai.ChatCompletionNewParams) {
				p.MaxCompletionTokens = openai.Int(400)
				p.N = openai.Int(3)
			}),
			says: "1204 tokens", // three completions of 400 tokens and the prompt
		},
		{
			// The tool definitions go into the prompt the provider
			// counts.
			name: "the tool definitions", cfg: fakeprovider.Config{RPM: 600},
			budget: WithTokensPerMinute(1000),
			send: openAI(func(p *openai.ChatCompletionNewParams) {
				p.MaxCompletionTokens = openai.Int(100)
				p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openaishared.FunctionDefinitionParam{
					Name:        "lookup",
					Description: openai.String(strings.Repeat("Looks the word up in the dictionary. ", 120)), // 4,440 bytes
				})}
			}),
		},
		{
			// The tool calls of the conversation so far are input the
			// provider counts: here a tool_use block whose input (a
			// file to write) is larger than the input budget.
			name: "the tool calls", cfg: fakeprovider.Config{RPM: 600},
			budget: WithInputTokensPerMinute(1000),
			send: claude(
				anthropic.NewUserMessage(anthropic.NewTextBlock("Write the report to report.txt")),
				anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_1",
					map[string]string{"path": "report.txt", "content": strings.Repeat("All work and no play. ", 200)}, "write_file")),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_1", "written", false)),
			),
		},
		{
			// A plain-text document is prompt text the provider counts.
			name: "a text document", cfg: fakeprovider.Config{RPM: 600},
			budget: WithInputTokensPerMinute(1000),
			send: claude(anthropic.NewUserMessage(
				anthropic.NewDocumentBlock(anthropic.PlainTextSourceParam{Data: strings.Repeat("The grass is green. ", 250)}),
				anthropic.NewTextBlock("What colour is the grass?"))),
		},
		{
			// An input given as token ids is that many tokens: an
			// embedding of 2,000 of them.
			name: "token ids", cfg: fakeprovider.Config{RPM: 600},
			budget: WithTokensPerMinute(1000),
			send: func(tr *Transport) error {
				ids := strings.TrimSuffix(strings.Repeat("1234,", 2000), ",")
				_, err := tr.Client().Post(fakeURL+"/v1/embeddings", "application/json",
					strings.NewReader(`{"model":"text-embedding-3-small","input":[[`+ids+`]]}`))
				return err
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := tpProvider(t, tc.cfg)
				l := newLimiter(t, 600, tc.budget)
				err := tc.send(tpTransport(t, s.Transport(), WithLimiter(l)))
				require.ErrorIs(t, err, ErrExceedsBudget)
				if tc.says != "" {
					assert.Contains(t, err.Error(), tc.says)
				}
				assert.Zero(t, s.Stats().Requests, "nothing was sent")
			})
		})
	}
}

func TestTransportDailyBudgetSpentFailsFastUntilReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, 600)
		calls := 0
		// Groq counts requests per day under OpenAI's header names.
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			h := http.Header{
				"X-Ratelimit-Limit-Requests":     {"1000"},
				"X-Ratelimit-Remaining-Requests": {"0"},
				"X-Ratelimit-Reset-Requests":     {"2h30m0s"},
			}
			return jsonResponse(r, http.StatusOK, h, `{"id":"1","choices":[]}`), nil
		})
		c := tpTransport(t, rt, WithLimiter(l)).Client()
		start := time.Now()
		resp, err := c.Post(fakeURL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())

		_, err = c.Post(fakeURL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
		require.ErrorIs(t, err, ErrQuotaExhausted, "the last request of the day was spent")
		var qe *QuotaError
		require.ErrorAs(t, err, &qe)
		assert.Equal(t, 150*time.Minute, qe.Reset.Sub(start))
		assert.Contains(t, err.Error(), "limit 1000")
		assert.Equal(t, 1, calls, "nothing sent")
		assert.Equal(t, int64(1000), l.Stats().Server.Requests.Limit)

		time.Sleep(150 * time.Minute)
		resp, err = c.Post(fakeURL+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
		require.NoError(t, err, "sent again after the reset")
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, 2, calls)
	})
}

// openai-go closes a stream as soon as it reads "data: [DONE]", before the
// body's end: the usage chunk before it still corrects the charge.
func TestTransportReconcilesAStreamClosedAfterItsLastEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		l := newLimiter(t, 600, WithTokensPerMinute(60000)) // 1,000 tokens a second
		client := tpOpenAI(fakeURL, tpTransport(t, s.Transport(), WithLimiter(l)))
		params := tpChat("gpt-4o-mini")
		params.MaxCompletionTokens = openai.Int(50000)
		params.StreamOptions.IncludeUsage = openai.Bool(true)

		st := client.Chat.Completions.NewStreaming(context.Background(), params)
		var acc openai.ChatCompletionAccumulator
		for st.Next() {
			acc.AddChunk(st.Current())
		}
		require.NoError(t, st.Err())
		require.NoError(t, st.Close())
		require.NotZero(t, acc.Usage.TotalTokens, "the stream reported its usage")

		// Charged the estimate of 50,000 output tokens, the budget would
		// be in debt for most of a minute; charged the usage, it has
		// room a second later (when the request rate allows the next
		// ticket) for a request of 500 tokens.
		time.Sleep(time.Second)
		tk, ok := l.TryAcquire(WithTokens(500, 0))
		require.True(t, ok, "the stream's usage (%d tokens) replaced its estimate", acc.Usage.TotalTokens)
		tk.Done()
	})
}

// A request the server refuses without working on it (out of credit, a
// wrong URL, a bad request) used none of the tokens it was charged: they
// go back to the budget at once rather than hold it for a minute.
func TestTransportRefusedRequestsGiveTheirTokensBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tpProvider(t, fakeprovider.Config{RPM: 600})
		l := newLimiter(t, 600, WithTokensPerMinute(1000))
		tr := tpTransport(t, s.Transport(), WithLimiter(l))
		client := tpOpenAI(fakeURL, tr)
		params := tpChat("gpt-4o-mini")
		params.MaxCompletionTokens = openai.Int(900) // most of a minute's budget
		call := func() error {
			_, err := client.Chat.Completions.New(context.Background(), params)
			return err
		}

		s.QuotaExhausted("", true)
		require.Error(t, call(), "out of credit")
		s.QuotaExhausted("", false)
		start := time.Now()
		require.NoError(t, call())
		assert.Less(t, time.Since(start), time.Second, "the tokens of the request refused for credit came back")

		resp, err := (&http.Client{Transport: tr}).Post(fakeURL+"/v1/no-such-endpoint", "application/json",
			strings.NewReader(`{"model":"gpt-4o-mini","max_completion_tokens":900,"messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.NoError(t, resp.Body.Close())
		start = time.Now()
		require.NoError(t, call())
		assert.Less(t, time.Since(start), time.Second, "the tokens of the request answered 404 came back")
		assertSettled(t, l, 4)
	})
}

// A redirect (a 307 to the API's canonical path, say) did no work on the
// request: the hop is charged nothing, and only the request sent to the
// new location is charged, then corrected from its usage.
func TestTransportRedirectGivesItsTokensBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			_ = r.Body.Close()
			if r.URL.Path == "/v1/chat/completions/" {
				return jsonResponse(r, http.StatusTemporaryRedirect, http.Header{"Location": {"/v1/chat/completions"}}, ""), nil
			}
			return jsonResponse(r, http.StatusOK, nil,
				`{"id":"chatcmpl-1","object":"chat.completion","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}`), nil
		})
		l := newLimiter(t, 600, WithTokensPerMinute(60000)) // 1,000 tokens a second
		start := time.Now()
		resp, err := tpTransport(t, rt, WithLimiter(l)).Client().Post(fakeURL+"/v1/chat/completions/", "application/json",
			strings.NewReader(`{"model":"m","max_tokens":50000,"messages":[{"role":"user","content":"hi"}]}`))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assertSettled(t, l, 2)
		// Charged its estimate of 50,000 output tokens, the redirect
		// would keep the budget in debt for most of a minute, and the
		// request sent to the new location would wait that out.
		assert.Less(t, time.Since(start), time.Second, "the redirect's tokens came back at once")

		time.Sleep(time.Second)
		tk, ok := l.TryAcquire(WithTokens(500, 0))
		require.True(t, ok, "only the usage of the answered request is charged")
		tk.Done()
	})
}
