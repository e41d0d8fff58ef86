package ratellmiter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// cachedAnswer is an Anthropic answer whose prompt was read from the cache
// but for 50 tokens.
const cachedAnswer = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",` +
	`"content":[{"type":"text","text":"Rule 3: be brief."}],"stop_reason":"end_turn",` +
	`"usage":{"input_tokens":50,"cache_creation_input_tokens":0,"cache_read_input_tokens":20000,"output_tokens":8}}`

// askWithRules asks claude, through anthropic-sdk-go, question after a
// system prompt of 80,000 bytes (20,000 tokens) that ends in a cache
// breakpoint, with an output cap of 100 tokens.
func askWithRules(client anthropic.Client, question string) error {
	_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 100,
		System: []anthropic.TextBlockParam{{
			Text:         strings.Repeat("A rule. ", 10_000),
			CacheControl: anthropic.NewCacheControlEphemeralParam(),
		}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(question))},
	})
	return err
}

// A request whose long system prompt Anthropic's cache holds is charged
// its estimate less that prompt, once an answer has reported the cache
// read: the tokens read from the cache do not count against Anthropic's
// input tokens per minute. With a budget of 30,000 tokens a minute, the
// first request is charged its 20,000 tokens of system prompt, the next
// ones about a hundred each (their question, and their output cap), so
// that ten run at once where one did.
func TestTransportChargesNoTokensForAPromptTheCacheHolds(t *testing.T) {
	srv := answeringServer(t, func() string { return cachedAnswer })
	base := &http.Transport{DisableKeepAlives: true}
	synctest.Test(t, func(t *testing.T) {
		// 100,000 tickets a second, so that the budget, its whole
		// minute banked, refills by a twentieth of a token between two.
		l := newLimiter(t, 6_000_000, WithTokensPerMinute(30_000), WithTokenBurst(time.Minute))
		gate, sent, release := gatedTransport(base)
		client := tpAnthropic(srv.URL, tpTransport(t, gate, WithLimiter(l)))
		full := tokenLevel(l)
		done := make(chan error)

		go func() { done <- askWithRules(client, "What is rule 1?") }()
		<-sent
		assert.InDelta(t, 20_000+100, full-tokenLevel(l), 20, "the first request: its whole prompt and output cap")
		release <- struct{}{}
		require.NoError(t, <-done)
		assert.InDelta(t, 58, full-tokenLevel(l), 1, "corrected to the 50 input and 8 output tokens it used")

		for i := range 10 {
			go func() { done <- askWithRules(client, fmt.Sprintf("What is rule %d?", i+2)) }()
		}
		for range 10 {
			<-sent // issued, none held back by the budget
		}
		assert.InDelta(t, 58+10*(100+9), full-tokenLevel(l), 20, "each of ten in flight: its question and output cap")
		for range 10 {
			release <- struct{}{}
		}
		for range 10 {
			require.NoError(t, <-done)
		}
		base.CloseIdleConnections()
	})
}

// An answer that read and wrote nothing from the cache (its entry was
// evicted) forgets the prefix: the next request is charged in full.
func TestPromptCacheForgetsAPrefixTheAnswerDidNotRead(t *testing.T) {
	var c promptCache
	l := newLimiter(t, 60, WithName("claude"))
	now := l.now()
	body := `{"model":"claude-sonnet-4-5","system":[{"type":"text","text":"` + strings.Repeat("A rule. ", 10_000) +
		`","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`
	prefixes := signals.CachePrefixes([]byte(body))
	require.Len(t, prefixes, 1)
	assert.Zero(t, c.discount(l, prefixes, now), "nothing is known before an answer")

	c.learn(l, prefixes, signals.Usage{InputTokens: 20_003, CacheWriteTokens: 20_000, Known: true}, now)
	assert.Equal(t, prefixes[0].Tokens, c.discount(l, prefixes, now+int64(4*time.Minute)), "written, then held")
	assert.Zero(t, c.discount(l, prefixes, now+int64(5*time.Minute)), "five minutes after its last use, gone")

	c.learn(l, prefixes, signals.Usage{InputTokens: 3, CacheReadTokens: 15_000, Known: true}, now)
	assert.Equal(t, int64(15_000), c.discount(l, prefixes, now), "held as far as the answer reported it")

	c.learn(l, prefixes, signals.Usage{InputTokens: 20_003, Known: true}, now)
	assert.Zero(t, c.discount(l, prefixes, now), "an answer that did not read it forgets it")

	other := newLimiter(t, 60, WithName("claude-batch"))
	c.learn(l, prefixes, signals.Usage{CacheReadTokens: 20_000, Known: true}, now)
	assert.Zero(t, c.discount(other, prefixes, now), "each limiter (each API key) has its own cache")
}

// A prompt shorter than Anthropic caches is never held, whatever the
// answer reports of a longer one.
func TestPromptCacheHoldsNoPromptTooShortToCache(t *testing.T) {
	var c promptCache
	l := newLimiter(t, 60)
	body := `{"model":"m","system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`
	prefixes := signals.CachePrefixes([]byte(body))
	require.Len(t, prefixes, 1)
	c.learn(l, prefixes, signals.Usage{CacheReadTokens: 5000, Known: true}, l.now())
	assert.Zero(t, c.discount(l, prefixes, l.now()))
}
