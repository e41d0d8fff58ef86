package signals

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// checkHint asserts the invariants shared by every retry hint.
func checkHint(t *testing.T, what string, d time.Duration, ok bool) {
	t.Helper()
	if d < 0 || d > MaxRetryAfter {
		t.Fatalf("%s: got %v, want within [0, %v]", what, d, MaxRetryAfter)
	}
	if !ok && d != 0 {
		t.Fatalf("%s: got %v without a hint, want 0", what, d)
	}
}

func FuzzRetryAfter(f *testing.F) {
	f.Add("", "20", int64(0))
	f.Add("250", "1", int64(0))
	f.Add("19875.5", "", int64(0))
	f.Add("", "Sun, 01 Jun 2025 12:01:30 GMT", int64(0))
	f.Add("", "Sun, 01 Jun 2025 12:01:30 GMT", int64(-86400*3))
	f.Add("-5", "NaN", int64(0))
	f.Add("1e3", "86401", int64(0))
	f.Add("Inf", "99999999999999999999", int64(0))
	f.Fuzz(func(t *testing.T, ms, seconds string, shift int64) {
		h := hdr("retry-after-ms", ms, "Retry-After", seconds)
		d, ok := RetryAfter(h, testNow.Add(time.Duration(shift)*time.Second))
		checkHint(t, "RetryAfter", d, ok)
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"1s", "20ms", "6m0s", "1m30.5s", "2h3m", "0.5s", "15µs", "7ns", "0", "", "-1s", "1d", "9999999999999999999h", ".5s", "5.s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseDuration(s)
		if !ok {
			if d != 0 {
				t.Fatalf("ParseDuration(%q) = %v, false; want 0 on failure", s, d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v; want non-negative", s, d)
		}
		if strings.ContainsAny(s, "+-") {
			t.Fatalf("ParseDuration(%q) accepted a sign", s)
		}
		// Agree with the standard library on the inputs both accept,
		// up to rounding of long fractions.
		if std, err := time.ParseDuration(s); err == nil {
			if diff := std - d; diff < -time.Microsecond || diff > time.Microsecond {
				t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration = %v", s, d, std)
			}
		}
	})
}

func FuzzParseHeaders(f *testing.F) {
	f.Add("60", "59", "1s", "2025-06-01T12:00:01Z", "20", "", "true")
	f.Add("lots", "-3", "-1s", "5s", "", "19875.5", "maybe")
	f.Add("9223372036854775807", "9223372036854775808", "9999999999999999999h", "2025-06-01T14:00:30+02:00", "Sun, 01 Jun 2025 12:01:30 GMT", "NaN", "FALSE")
	f.Fuzz(func(t *testing.T, limit, remaining, reset, absReset, retryAfter, retryAfterMs, shouldRetry string) {
		h := hdr(
			"x-ratelimit-limit-requests", limit,
			"x-ratelimit-remaining-requests", remaining,
			"x-ratelimit-reset-requests", reset,
			"x-ratelimit-remaining-tokens", limit,
			"anthropic-ratelimit-tokens-remaining", remaining,
			"anthropic-ratelimit-tokens-reset", absReset,
			"anthropic-ratelimit-input-tokens-limit", limit,
			"anthropic-ratelimit-input-tokens-remaining", remaining,
			"anthropic-ratelimit-input-tokens-reset", reset,
			"anthropic-ratelimit-output-tokens-reset", absReset,
			"Retry-After", retryAfter,
			"retry-after-ms", retryAfterMs,
			"x-should-retry", shouldRetry,
		)
		l := ParseHeaders(h, testNow)
		for name, b := range map[string]Budget{"Requests": l.Requests, "Tokens": l.Tokens, "InputTokens": l.InputTokens, "OutputTokens": l.OutputTokens} {
			if b.Limit < 0 || b.Remaining < 0 {
				t.Fatalf("%s: negative count %+v", name, b)
			}
			if !b.Known && b.Remaining != 0 {
				t.Fatalf("%s: Remaining %d without Known", name, b.Remaining)
			}
		}
		if !l.Requests.Reset.IsZero() && l.Requests.Reset.Before(testNow) {
			t.Fatalf("Requests.Reset %v is before now for duration %q", l.Requests.Reset, reset)
		}
		checkHint(t, "RetryAfter", l.RetryAfter, l.HasRetryAfter)
		if (l.ShouldRetry != nil) != (strings.EqualFold(strings.TrimSpace(shouldRetry), "true") || strings.EqualFold(strings.TrimSpace(shouldRetry), "false")) {
			t.Fatalf("ShouldRetry %v for %q", l.ShouldRetry, shouldRetry)
		}
	})
}

func FuzzParseErrorBody(f *testing.F) {
	for _, name := range []string{"openai_429_rpm.json", "openai_429_tpm.json", "openai_insufficient_quota.json", "anthropic_429.json", "anthropic_529.json", "anthropic_spend_limit.json", "gemini_retryinfo.json", "gemini_per_day.json", "gemini_503.json"} {
		f.Add(429, "", "", fixture(f, name))
	}
	f.Add(503, "30", "", []byte("<html>busy</html>"))
	f.Add(429, "", "false", []byte(`{"error":"x"}`))
	f.Add(529, "-1", "true", []byte(`[{"error":{"status":"UNAVAILABLE","details":[{"@type":"google.rpc.RetryInfo","retryDelay":"1e9s"}]}}]`))
	f.Add(429, "", "", []byte(`{"error":{"message":"Please try again in 99999999999h.","code":"rate_limit_exceeded"}}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter, shouldRetry string, body []byte) {
		info := ParseErrorBody(status, hdr("Retry-After", retryAfter, "x-should-retry", shouldRetry), body, testNow)
		if info.Kind < KindUnknown || info.Kind > KindTooLarge {
			t.Fatalf("Kind out of range: %d", info.Kind)
		}
		checkHint(t, "RetryAfter", info.RetryAfter, info.HasRetryAfter)
		if (info.Quota != "") != (info.Kind == KindQuotaExhausted) {
			t.Fatalf("Quota %q inconsistent with Kind %v", info.Quota, info.Kind)
		}
		if status == http.StatusTooManyRequests && info.Kind == KindUnknown {
			t.Fatalf("429 classified as unknown")
		}
		if d, ok := RetryAfter(hdr("Retry-After", retryAfter), testNow); ok && (!info.HasRetryAfter || info.RetryAfter != d) {
			t.Fatalf("header hint %v lost: got %v, %v", d, info.RetryAfter, info.HasRetryAfter)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, name := range []string{"openai_chat_request.json", "anthropic_messages_request.json", "openai_responses_request.json", "gemini_request.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"max_tokens":1e300,"prompt":["a",["b",{"text":"c"}]]}`))
	f.Add([]byte(`{"messages":[{"content":"\ud800"}],"max_tokens":-1}`))
	f.Add([]byte(`{"messages":[{"content":"` + "\xff\xfe" + `"}]}`))
	f.Add([]byte(`{"model":"gpt-4o-mini","messages":[{"type":"image_url"}]}`))
	f.Add([]byte(`{"messages":[{"content":[{"type":"document","source":{"type":"base64","data":"` + b64(threePagePDF()) + `"}},{"type":"file","file":{"file_id":"f"}},{"inlineData":{"mimeType":"application/pdf","data":"AAAA"}}]}]}`))
	dearestImage := imageTokens(openAIImageRule("gpt-4o-mini", false), 0, 0, false)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := ParseRequest(body)
		if r.MaxTokens < 0 || r.PromptChars < 0 || r.Messages < 0 || r.ImageTokens < 0 {
			t.Fatalf("negative count: %+v", r)
		}
		// An image costs at most what one of unknown size costs under the
		// dearest rule (gpt-4o-mini's), and takes 16 bytes or more of the
		// body ({"type":"image"}).
		if r.ImageTokens > dearestImage*int64(len(body)/16) {
			t.Fatalf("image tokens exceed a bound for a body of %d bytes: %+v", len(body), r)
		}
		if r.UnsizedImageTokens < 0 || r.UnsizedImageTokens > r.ImageTokens {
			t.Fatalf("the tokens of images of unknown size are not a part of the images' tokens: %+v", r)
		}
		if r.DocumentTokens < 0 {
			t.Fatalf("the tokens of pages estimated from a PDF's size are not a part of the documents' tokens: %+v", r)
		}
		// Invalid UTF-8 bytes decode to a three-byte replacement
		// character, so text can grow at most threefold.
		if r.PromptChars > 3*int64(len(body)) || r.Messages > int64(len(body)) {
			t.Fatalf("counts exceed body size %d: %+v", len(body), r)
		}
		if e := r.EstimateTokens(); e < r.MaxTokens {
			t.Fatalf("EstimateTokens %d below MaxTokens %d", e, r.MaxTokens)
		}
	})
}

// checkUsage asserts the invariants of a Usage.
func checkUsage(t *testing.T, u Usage) {
	t.Helper()
	if u.InputTokens < 0 || u.OutputTokens < 0 {
		t.Fatalf("negative usage: %+v", u)
	}
	if !u.Known && (u.InputTokens != 0 || u.OutputTokens != 0) {
		t.Fatalf("counts without Known: %+v", u)
	}
}

func FuzzParseUsage(f *testing.F) {
	for _, name := range []string{"openai_chat_response.json", "openai_responses_response.json", "anthropic_message_response.json", "gemini_response.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`[{"usageMetadata":{"promptTokenCount":3}},{"usage":{"output_tokens":1e400}}]`))
	f.Add([]byte(`{"usage":{"prompt_tokens":-1,"completion_tokens":"2"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkUsage(t, ParseUsage(body))
	})
}

func FuzzStreamUsage(f *testing.F) {
	for _, name := range []string{"openai_stream.txt", "anthropic_stream.txt", "openai_responses_stream.txt", "gemini_stream.txt"} {
		b := fixture(f, name)
		f.Add(b, uint(len(b)/2))
	}
	f.Add([]byte("data: {\"usage\":{\"prompt_tokens\":1}}\r\ndata: {\"usage\":{\"completion_tokens\":2}}"), uint(10))
	f.Add([]byte("data:\rdata: [DONE]\n\n: ping\n"), uint(3))
	f.Add([]byte("data: {\"usage\":{\"prompt_tokens\":1}}\rdata: 2\ndata: {\"usage\":{\"completion_tokens\":3}}\n"), uint(0))
	f.Fuzz(func(t *testing.T, events []byte, split uint) {
		whole := ParseStreamUsage(events)
		checkUsage(t, whole)
		// The result must not depend on how the stream is chunked.
		k := int(split % uint(len(events)+1))
		var s StreamUsage
		if n, err := s.Write(events[:k]); n != k || err != nil {
			t.Fatalf("Write returned %d, %v; want %d, nil", n, err, k)
		}
		mid := s.Usage()
		checkUsage(t, mid)
		_, _ = s.Write(events[k:])
		if got := s.Usage(); got != whole {
			t.Fatalf("split at %d: got %+v, want %+v", k, got, whole)
		}
		// Nor when it is cut everywhere at once, a byte a write.
		var bytewise StreamUsage
		for i := range events {
			_, _ = bytewise.Write(events[i : i+1])
		}
		if got := bytewise.Usage(); got != whole || bytewise.Complete() != s.Complete() {
			t.Fatalf("a byte a write: got %+v, %v; want %+v, %v", got, bytewise.Complete(), whole, s.Complete())
		}
	})
}
