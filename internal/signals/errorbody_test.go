package signals

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name   string
		status int
		h      http.Header
		body   []byte
		want   ErrorInfo
	}{
		{
			name: "openai rpm uses message hint", status: 429, h: hdr(),
			body: fixture(t, "openai_429_rpm.json"),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 20 * time.Second, HasRetryAfter: true, Code: "rate_limit_exceeded"},
		},
		{
			name: "openai rpm header hint wins", status: 429, h: headerFixture(t, "openai_429_headers.txt"),
			body: fixture(t, "openai_429_rpm.json"),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 19875500 * time.Microsecond, HasRetryAfter: true, Code: "rate_limit_exceeded"},
		},
		{
			name: "openai tpm millisecond hint", status: 429, h: hdr(),
			body: fixture(t, "openai_429_tpm.json"),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 105 * time.Millisecond, HasRetryAfter: true, Code: "rate_limit_exceeded"},
		},
		{
			name: "groq requests per day used up", status: 429,
			h:    hdr("X-Ratelimit-Limit-Requests", "14400", "X-Ratelimit-Remaining-Requests", "0", "X-Ratelimit-Reset-Requests", "20h0m0s"),
			body: []byte(`{"error":{"message":"Rate limit reached on requests per day (RPD)","type":"requests","code":"rate_limit_exceeded"}}`),
			want: ErrorInfo{Kind: KindQuotaExhausted, Quota: "requests per day", Code: "rate_limit_exceeded", Message: "Rate limit reached on requests per day (RPD)"},
		},
		{
			name: "requests per minute used up is a rate limit", status: 429,
			h:    hdr("X-Ratelimit-Limit-Requests", "3000", "X-Ratelimit-Remaining-Requests", "0", "X-Ratelimit-Reset-Requests", "20s"),
			want: ErrorInfo{Kind: KindRateLimited},
		},
		{
			name: "openai insufficient quota", status: 429, h: hdr(),
			body: fixture(t, "openai_insufficient_quota.json"),
			want: ErrorInfo{Kind: KindQuotaExhausted, Quota: "insufficient_quota", Code: "insufficient_quota"},
		},
		{
			name: "anthropic rate limit", status: 429, h: headerFixture(t, "anthropic_429_headers.txt"),
			body: fixture(t, "anthropic_429.json"),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 13 * time.Second, HasRetryAfter: true, Code: "rate_limit_error"},
		},
		{
			name: "anthropic overloaded", status: 529, h: hdr(),
			body: fixture(t, "anthropic_529.json"),
			want: ErrorInfo{Kind: KindOverloaded, Code: "overloaded_error"},
		},
		{
			name: "anthropic spend limit", status: 429, h: hdr(),
			body: fixture(t, "anthropic_spend_limit.json"),
			want: ErrorInfo{Kind: KindQuotaExhausted, Quota: "enforced_spend_limit_reached", Code: "rate_limit_error"},
		},
		{
			name: "anthropic spend limit as invalid request", status: 400, h: hdr(),
			body: []byte(`{"type":"error","error":{"type":"invalid_request_error","message":"limit reached","details":{"error_code":"enforced_spend_limit_reached"}}}`),
			want: ErrorInfo{Kind: KindQuotaExhausted, Quota: "enforced_spend_limit_reached", Code: "invalid_request_error"},
		},
		{
			name: "gemini per minute with retry info", status: 429, h: hdr(),
			body: fixture(t, "gemini_retryinfo.json"),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 26 * time.Second, HasRetryAfter: true, Code: "RESOURCE_EXHAUSTED"},
		},
		{
			name: "gemini per day", status: 429, h: hdr(),
			body: fixture(t, "gemini_per_day.json"),
			want: ErrorInfo{Kind: KindQuotaExhausted, Quota: "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
				RetryAfter: 43500 * time.Millisecond, HasRetryAfter: true, Code: "RESOURCE_EXHAUSTED"},
		},
		{
			name: "gemini wrapped in array", status: 429, h: hdr(),
			body: []byte(`[{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"0.5s"}]}}]`),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 500 * time.Millisecond, HasRetryAfter: true, Code: "RESOURCE_EXHAUSTED"},
		},
		{
			name: "gemini odd detail does not hide retry info", status: 429, h: hdr(),
			body: []byte(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":7},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2s"}]}}`),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 2 * time.Second, HasRetryAfter: true, Code: "RESOURCE_EXHAUSTED"},
		},
		{
			name: "gemini absurd retry delay ignored", status: 429, h: hdr(),
			body: []byte(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"999999s"}]}}`),
			want: ErrorInfo{Kind: KindRateLimited, Code: "RESOURCE_EXHAUSTED"},
		},
		{
			name: "gemini hint from message without retry info", status: 429, h: hdr(),
			body: []byte(`{"error":{"code":429,"message":"Quota exceeded. Please retry in 43.526s.","status":"RESOURCE_EXHAUSTED"}}`),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 43526 * time.Millisecond, HasRetryAfter: true, Code: "RESOURCE_EXHAUSTED"},
		},
		{
			name: "gemini overloaded", status: 503, h: hdr(),
			body: fixture(t, "gemini_503.json"),
			want: ErrorInfo{Kind: KindOverloaded, Code: "UNAVAILABLE"},
		},
		{
			name: "should retry false turns 429 into quota", status: 429, h: hdr("x-should-retry", "false"),
			body: fixture(t, "anthropic_429.json"),
			want: ErrorInfo{Kind: KindQuotaExhausted, Quota: "x-should-retry: false", Code: "rate_limit_error"},
		},
		{
			name: "should retry false keeps specific quota", status: 429, h: hdr("x-should-retry", "false"),
			body: fixture(t, "openai_insufficient_quota.json"),
			want: ErrorInfo{Kind: KindQuotaExhausted, Quota: "insufficient_quota", Code: "insufficient_quota"},
		},
		{
			name: "should retry false ignored on other statuses", status: 500, h: hdr("x-should-retry", "false"),
			body: nil,
			want: ErrorInfo{},
		},
		{
			name: "503 with retry after", status: 503, h: hdr("Retry-After", "30"),
			body: []byte("<html>Service Unavailable</html>"),
			want: ErrorInfo{Kind: KindOverloaded, RetryAfter: 30 * time.Second, HasRetryAfter: true},
		},
		{
			name: "503 without hint", status: 503, h: hdr(),
			body: []byte("upstream connect error"),
			want: ErrorInfo{},
		},
		{
			name: "bare 529", status: 529, h: hdr(),
			want: ErrorInfo{Kind: KindOverloaded},
		},
		{
			name: "429 with unrecognised body and header hint", status: 429, h: hdr("retry-after-ms", "1500"),
			body: []byte("Too Many Requests"),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 1500 * time.Millisecond, HasRetryAfter: true},
		},
		{
			name: "429 with empty body", status: 429, h: hdr(),
			want: ErrorInfo{Kind: KindRateLimited},
		},
		{
			name: "error field of wrong type", status: 429, h: hdr(),
			body: []byte(`{"error":"rate limited"}`),
			want: ErrorInfo{Kind: KindRateLimited},
		},
		{
			name: "unrelated 400", status: 400, h: hdr(),
			body: []byte(`{"error":{"message":"Invalid 'messages'","type":"invalid_request_error","param":"messages","code":null}}`),
			want: ErrorInfo{Code: "invalid_request_error"},
		},
		{
			name: "message hint in minutes", status: 429, h: hdr(),
			body: []byte(`{"error":{"message":"Rate limit reached. Please try again in 6m0s.","type":"tokens","code":"rate_limit_exceeded"}}`),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 6 * time.Minute, HasRetryAfter: true, Code: "rate_limit_exceeded"},
		},
		{
			name: "message hint in fractional seconds", status: 429, h: hdr(),
			body: []byte(`{"error":{"message":"Please try again in 1.5s.","code":"rate_limit_exceeded"}}`),
			want: ErrorInfo{Kind: KindRateLimited, RetryAfter: 1500 * time.Millisecond, HasRetryAfter: true, Code: "rate_limit_exceeded"},
		},
		{
			name: "message hint of two days ignored", status: 429, h: hdr(),
			body: []byte(`{"error":{"message":"Please try again in 48h.","code":"rate_limit_exceeded"}}`),
			want: ErrorInfo{Kind: KindRateLimited, Code: "rate_limit_exceeded"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseErrorBody(tc.status, tc.h, tc.body, testNow)
			assert.Equal(t, tc.want.Kind, got.Kind, "Kind: got %v, want %v", got.Kind, tc.want.Kind)
			assert.Equal(t, tc.want.HasRetryAfter, got.HasRetryAfter, "HasRetryAfter: got %v, want %v", got.HasRetryAfter, tc.want.HasRetryAfter)
			assert.Equal(t, tc.want.RetryAfter, got.RetryAfter, "RetryAfter: got %v, want %v", got.RetryAfter, tc.want.RetryAfter)
			assert.Equal(t, tc.want.Quota, got.Quota, "Quota: got %q, want %q", got.Quota, tc.want.Quota)
			assert.Equal(t, tc.want.Code, got.Code, "Code: got %q, want %q", got.Code, tc.want.Code)
		})
	}
}

func TestParseErrorBodyMessage(t *testing.T) {
	got := ParseErrorBody(529, hdr(), fixture(t, "anthropic_529.json"), testNow)
	assert.Equal(t, "Overloaded", got.Message, "Message: got %q, want %q", got.Message, "Overloaded")
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind Kind
		want string
	}{
		{KindUnknown, "unknown"},
		{KindRateLimited, "rate_limited"},
		{KindQuotaExhausted, "quota_exhausted"},
		{KindOverloaded, "overloaded"},
		{Kind(42), "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.kind.String(), "Kind(%d).String(): got %q, want %q", int(tc.kind), tc.kind.String(), tc.want)
		})
	}
}
