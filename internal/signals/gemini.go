package signals

import (
	"encoding/json"
	"strings"
	"time"
)

// geminiDetail is one entry of a google.rpc.Status details array.
type geminiDetail struct {
	Type       string `json:"@type"`
	RetryDelay string `json:"retryDelay"`
	Violations []struct {
		QuotaID string `json:"quotaId"`
	} `json:"violations"`
}

// classifyGemini interprets a google.rpc.Status error. A QuotaFailure
// violation whose quotaId mentions "PerDay" is an exhausted quota; any
// other RESOURCE_EXHAUSTED is a rate limit, and UNAVAILABLE is overload.
func classifyGemini(info *ErrorInfo, status string, raw json.RawMessage) (time.Duration, bool) {
	var details []geminiDetail
	if len(raw) > 0 && raw[0] == '[' {
		// Decode entry by entry so one odd entry does not hide the rest.
		var entries []json.RawMessage
		_ = json.Unmarshal(raw, &entries)
		for _, r := range entries {
			var d geminiDetail
			if json.Unmarshal(r, &d) == nil {
				details = append(details, d)
			}
		}
	}
	var hint time.Duration
	var hasHint bool
	for _, d := range details {
		switch {
		case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
			if v, ok := parseProtoDuration(d.RetryDelay); ok {
				hint, hasHint = v, true
			}
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
			for _, v := range d.Violations {
				if info.Quota == "" && strings.Contains(v.QuotaID, "PerDay") {
					info.Quota = v.QuotaID
				}
			}
		}
	}
	switch {
	case info.Quota != "":
		info.Kind = KindQuotaExhausted
	case status == "RESOURCE_EXHAUSTED":
		info.Kind = KindRateLimited
	case status == "UNAVAILABLE":
		info.Kind = KindOverloaded
	}
	return hint, hasHint
}

// parseProtoDuration parses a google.protobuf.Duration in its JSON form:
// decimal seconds followed by "s", such as "26s" or "0.5s".
func parseProtoDuration(s string) (time.Duration, bool) {
	num, rest := splitNumber(strings.TrimSpace(s))
	if num == "" || rest != "s" {
		return 0, false
	}
	return clampHint(decimalDuration(num, time.Second))
}
