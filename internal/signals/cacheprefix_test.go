package signals

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cachedRequest returns an Anthropic request for model whose long system
// prompt ends in a breakpoint of ttl ("" for none), followed by question
// and, when last, a breakpoint on it.
func cachedRequest(model, ttl, question string, last bool) string {
	cc := `{"type":"ephemeral"}`
	if ttl != "" {
		cc = `{"type":"ephemeral","ttl":"` + ttl + `"}`
	}
	q := `{"type":"text","text":"` + question + `"}`
	if last {
		q = `{"type":"text","text":"` + question + `","cache_control":{"type":"ephemeral"}}`
	}
	return `{"model":"` + model + `","max_tokens":100,` +
		`"system":[{"type":"text","text":"You answer briefly."},{"type":"text","text":"` + strings.Repeat("A rule. ", 5000) + `","cache_control":` + cc + `}],` +
		`"messages":[{"role":"user","content":[` + q + `]}]}`
}

// breakpoints returns the prefixes of body that its breakpoints mark.
func breakpoints(body string) []CachePrefix {
	var out []CachePrefix
	for _, p := range CachePrefixes([]byte(body)) {
		if p.Breakpoint {
			out = append(out, p)
		}
	}
	return out
}

func TestCachePrefixesAreTheBreakpointsPrompts(t *testing.T) {
	body := cachedRequest("claude-sonnet-4-5", "", "What is rule 3?", true)
	got := breakpoints(body)
	require.Len(t, got, 2)
	system := int64(len("You answer briefly.")+5000*len("A rule. ")) / 4
	assert.Equal(t, CachePrefix{Hash: got[0].Hash, Tokens: system, Breakpoint: true, TTL: 5 * time.Minute}, got[0], "the system prompt")
	assert.Equal(t, ParseRequest([]byte(body)).EstimateInputTokens(), got[1].Tokens, "the whole prompt, up to its last block")
	assert.NotEqual(t, got[0].Hash, got[1].Hash)

	other := breakpoints(cachedRequest("claude-sonnet-4-5", "", "What is rule 4?", true))
	require.Len(t, other, 2)
	assert.Equal(t, got[0].Hash, other[0].Hash, "the same system prompt, the same prefix")
	assert.NotEqual(t, got[1].Hash, other[1].Hash, "another question, another prefix")

	haiku := breakpoints(cachedRequest("claude-haiku-4-5", "", "What is rule 3?", true))
	assert.NotEqual(t, got[0].Hash, haiku[0].Hash, "another model has a cache of its own")

	hour := breakpoints(cachedRequest("claude-sonnet-4-5", "1h", "What is rule 3?", false))
	require.Len(t, hour, 1)
	assert.Equal(t, time.Hour, hour[0].TTL)
	assert.Equal(t, got[0].Hash, hour[0].Hash, "neither the ttl nor the breakpoint is part of the prompt")
}

// A conversation moves its breakpoint to its last message at each turn:
// the prefix the turn before cached ends on a block of this turn that no
// longer carries one, within the blocks the cache looks back over.
func TestCachePrefixesLookBackOverTheBlocksBeforeABreakpoint(t *testing.T) {
	turn := func(n int) string {
		var msgs []string
		for i := range n {
			cc := ""
			if i == n-1 {
				cc = `,"cache_control":{"type":"ephemeral"}`
			}
			role := []string{"user", "assistant"}[i%2]
			msgs = append(msgs, `{"role":"`+role+`","content":[{"type":"text","text":"message `+strings.Repeat("x", i)+`"`+cc+`}]}`)
		}
		return `{"model":"claude-sonnet-4-5","messages":[` + strings.Join(msgs, ",") + `]}`
	}
	before := breakpoints(turn(3))
	require.Len(t, before, 1)
	now := CachePrefixes([]byte(turn(5)))
	require.Len(t, now, 5, "every block up to the breakpoint")
	assert.Equal(t, before[0], CachePrefix{Hash: now[2].Hash, Tokens: now[2].Tokens, Breakpoint: true, TTL: 5 * time.Minute},
		"the third block's prefix is the one the turn before cached")
	assert.False(t, now[2].Breakpoint)
	assert.True(t, now[4].Breakpoint)

	long := CachePrefixes([]byte(turn(30)))
	assert.Len(t, long, cacheLookback+1, "the breakpoint and the 20 blocks before it")
}

// Tools come before the system prompt, and a breakpoint on a tool marks
// them; a prefix counts the images in it as the request's estimate does.
func TestCachePrefixesCountToolsAndImages(t *testing.T) {
	png := b64(encodedImage(t, "png", 1000, 1000))
	body := `{"model":"claude-sonnet-4-5","max_tokens":10,` +
		`"tools":[{"name":"a","input_schema":{"type":"object"}},{"name":"b","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],` +
		`"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + png + `"},"cache_control":{"type":"ephemeral"}},{"type":"text","text":"What is it?"}]}]}`
	got := breakpoints(body)
	require.Len(t, got, 2)
	r := ParseRequest([]byte(body))
	assert.Equal(t, int64(1334), r.ImageTokens, "1000x1000 at 750 px a token")
	var tools int64
	elements(member([]byte(body), "tools"), func(e []byte) { tools += jsonLen(e, 1) })
	assert.Equal(t, tools/4, got[0].Tokens, "two tools, at the length of their JSON")
	assert.Equal(t, got[0].Tokens+PerMessageTokens+1334, got[1].Tokens, "the tools, a message and its image")
	assert.LessOrEqual(t, got[1].Tokens, r.EstimateInputTokens())
}

func TestCachePrefixesOfARequestWithoutBreakpoints(t *testing.T) {
	for _, body := range []string{
		`{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"cache_control"}]}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":null}]}]}`,
		`{"cache_control":{}`,
		`["cache_control"]`,
	} {
		assert.Empty(t, CachePrefixes([]byte(body)), body)
	}
}

// A prefix is part of the prompt: its estimate grows block by block and
// never passes the request's.
func FuzzCachePrefixesArePartsOfThePrompt(f *testing.F) {
	f.Add([]byte(cachedRequest("claude-sonnet-4-5", "1h", "What is rule 3?", true)))
	f.Add([]byte(`{"model":"m","tools":[{"name":"a","cache_control":{"type":"ephemeral"}}],"system":"s","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"x","cache_control":{}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		all := ParseRequest(body).EstimateInputTokens()
		var last int64
		for _, p := range CachePrefixes(body) {
			if p.Tokens < last || p.Tokens > all {
				t.Fatalf("CachePrefixes(%q): a prefix of %d tokens after one of %d, in a request of %d", body, p.Tokens, last, all)
			}
			last = p.Tokens
		}
	})
}
