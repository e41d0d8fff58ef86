// Package fakeprovider is a local stand-in for the OpenAI and Anthropic HTTP
// APIs that throttles the way the real services do.
//
// A [Server] answers OpenAI's POST /v1/chat/completions and Anthropic's
// POST /v1/messages with bodies, headers and server-sent event streams in the
// providers' real shapes, so the official SDKs decode them unchanged. Every
// request is charged against a request budget (see [Window]) and optional
// token budgets; a request over budget is refused with 429, a Retry-After
// header and the provider's error body, exactly as a client would see it in
// production.
//
// Tests inject failures with [Server.Outage], [Server.QuotaExhausted],
// [Server.Overloaded] and [Server.SetRPM], and observe what the server
// admitted with [Server.Stats], [Server.PerSecond] and [Server.MaxInWindow].
//
// The server can be reached two ways: [Start] listens on 127.0.0.1 and
// returns a base URL, and [Server.Transport] returns an in-memory
// [net/http.RoundTripper] that needs no socket. Because the server reads the
// clock through [Config.Now] (time.Now by default) and simulates latency with
// timers, the in-memory transport works inside a testing/synctest bubble,
// where time is virtual and a minute of traffic takes no real time.
package fakeprovider
