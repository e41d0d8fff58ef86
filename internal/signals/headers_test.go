package signals

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseHeaders(t *testing.T) {
	at := func(d time.Duration) time.Time { return testNow.Add(d) }
	yes, no := true, false
	tests := []struct {
		name string
		h    http.Header
		want Limits
	}{
		{
			name: "openai fixture",
			h:    headerFixture(t, "openai_headers.txt"),
			want: Limits{
				Requests: Budget{Limit: 60, Remaining: 59, Reset: at(time.Second), Known: true},
				Tokens:   Budget{Limit: 150000, Remaining: 149984, Reset: at(6 * time.Minute), Known: true},
			},
		},
		{
			name: "openai 429 fixture",
			h:    headerFixture(t, "openai_429_headers.txt"),
			want: Limits{
				Requests:      Budget{Limit: 3, Remaining: 0, Reset: at(19875 * time.Millisecond), Known: true},
				Tokens:        Budget{Limit: 40000, Remaining: 39850, Reset: at(225 * time.Millisecond), Known: true},
				RetryAfter:    19875500 * time.Microsecond,
				HasRetryAfter: true,
				ShouldRetry:   &yes,
			},
		},
		{
			name: "groq fixture",
			h:    headerFixture(t, "groq_headers.txt"),
			want: Limits{
				Requests: Budget{Limit: 14400, Remaining: 14370, Reset: at(2*time.Minute + 59560*time.Millisecond), Known: true},
				Tokens:   Budget{Limit: 18000, Remaining: 17997, Reset: at(7660 * time.Millisecond), Known: true},
			},
		},
		{
			name: "anthropic fixture",
			h:    headerFixture(t, "anthropic_headers.txt"),
			want: Limits{
				Requests:     Budget{Limit: 50, Remaining: 49, Reset: at(time.Second), Known: true},
				Tokens:       Budget{Limit: 48000, Remaining: 47000, Reset: at(5 * time.Second), Known: true},
				InputTokens:  Budget{Limit: 40000, Remaining: 39000, Reset: at(5 * time.Second), Known: true},
				OutputTokens: Budget{Limit: 8000, Remaining: 8000, Reset: at(0), Known: true},
			},
		},
		{
			name: "anthropic 429 fixture",
			h:    headerFixture(t, "anthropic_429_headers.txt"),
			want: Limits{
				Requests:      Budget{Limit: 50, Remaining: 50, Reset: at(0), Known: true},
				InputTokens:   Budget{Limit: 40000, Remaining: 0, Reset: at(13 * time.Second), Known: true},
				OutputTokens:  Budget{Limit: 8000, Remaining: 8000, Reset: at(0), Known: true},
				RetryAfter:    13 * time.Second,
				HasRetryAfter: true,
				ShouldRetry:   &yes,
			},
		},
		{
			name: "empty",
			h:    hdr(),
			want: Limits{},
		},
		{
			name: "limit without remaining is not known",
			h:    hdr("x-ratelimit-limit-requests", "10", "x-ratelimit-reset-requests", "1s"),
			want: Limits{Requests: Budget{Limit: 10, Reset: at(time.Second)}},
		},
		{
			name: "garbage ignored field by field",
			h: hdr(
				"x-ratelimit-limit-requests", "lots",
				"x-ratelimit-remaining-requests", "7",
				"x-ratelimit-reset-requests", "-1s",
				"x-ratelimit-limit-tokens", "1000",
				"x-ratelimit-remaining-tokens", "-3",
				"x-ratelimit-reset-tokens", "2s",
				"x-should-retry", "maybe",
			),
			want: Limits{
				Requests: Budget{Remaining: 7, Known: true},
				Tokens:   Budget{Limit: 1000, Reset: at(2 * time.Second)},
			},
		},
		{
			name: "anthropic reset not rfc 3339",
			h: hdr(
				"anthropic-ratelimit-tokens-remaining", "5",
				"anthropic-ratelimit-tokens-reset", "5s",
			),
			want: Limits{Tokens: Budget{Remaining: 5, Known: true}},
		},
		{
			name: "anthropic reset with offset",
			h: hdr(
				"anthropic-ratelimit-requests-remaining", "1",
				"anthropic-ratelimit-requests-reset", "2025-06-01T14:00:30+02:00",
			),
			want: Limits{Requests: Budget{Remaining: 1, Reset: at(30 * time.Second), Known: true}},
		},
		{
			name: "anthropic reset with fractional seconds",
			h: hdr(
				"anthropic-ratelimit-output-tokens-remaining", "0",
				"anthropic-ratelimit-output-tokens-reset", "2025-06-01T12:00:01.5Z",
			),
			want: Limits{OutputTokens: Budget{Remaining: 0, Reset: at(1500 * time.Millisecond), Known: true}},
		},
		{
			name: "openai wins field by field over anthropic",
			h: hdr(
				"x-ratelimit-remaining-tokens", "1",
				"anthropic-ratelimit-tokens-remaining", "2",
				"anthropic-ratelimit-tokens-limit", "3",
			),
			want: Limits{Tokens: Budget{Limit: 3, Remaining: 1, Known: true}},
		},
		{
			name: "a reset more than MaxRetryAfter away is garbage",
			h: hdr(
				"x-ratelimit-remaining-requests", "0",
				"x-ratelimit-reset-requests", "1000000h",
				"x-ratelimit-remaining-tokens", "0",
				"x-ratelimit-reset-tokens", "24h",
				"anthropic-ratelimit-input-tokens-remaining", "0",
				"anthropic-ratelimit-input-tokens-reset", "2099-01-01T00:00:00Z",
			),
			want: Limits{
				Requests:    Budget{Remaining: 0, Known: true},
				Tokens:      Budget{Remaining: 0, Reset: at(24 * time.Hour), Known: true},
				InputTokens: Budget{Remaining: 0, Known: true},
			},
		},
		{
			name: "should retry false",
			h:    hdr("x-should-retry", "False"),
			want: Limits{ShouldRetry: &no},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseHeaders(tc.h, testNow)
			assertBudget(t, "Requests", tc.want.Requests, got.Requests)
			assertBudget(t, "Tokens", tc.want.Tokens, got.Tokens)
			assertBudget(t, "InputTokens", tc.want.InputTokens, got.InputTokens)
			assertBudget(t, "OutputTokens", tc.want.OutputTokens, got.OutputTokens)
			assert.Equal(t, tc.want.HasRetryAfter, got.HasRetryAfter, "HasRetryAfter: got %v, want %v", got.HasRetryAfter, tc.want.HasRetryAfter)
			assert.Equal(t, tc.want.RetryAfter, got.RetryAfter, "RetryAfter: got %v, want %v", got.RetryAfter, tc.want.RetryAfter)
			assert.Equal(t, tc.want.ShouldRetry, got.ShouldRetry, "ShouldRetry: got %v, want %v", got.ShouldRetry, tc.want.ShouldRetry)
		})
	}
}

// assertBudget compares budgets, treating equal instants in different
// locations as equal.
func assertBudget(t *testing.T, name string, want, got Budget) {
	t.Helper()
	assert.Equal(t, want.Known, got.Known, "%s.Known: got %v, want %v", name, got.Known, want.Known)
	assert.Equal(t, want.Limit, got.Limit, "%s.Limit: got %d, want %d", name, got.Limit, want.Limit)
	assert.Equal(t, want.Remaining, got.Remaining, "%s.Remaining: got %d, want %d", name, got.Remaining, want.Remaining)
	assert.True(t, want.Reset.Equal(got.Reset), "%s.Reset: got %v, want %v", name, got.Reset, want.Reset)
}
