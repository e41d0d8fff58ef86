// Package signals parses what large language model providers put on the
// wire that matters to a rate limiter: rate-limit response headers,
// Retry-After hints, error bodies, and the token counts found in request
// and response bodies (including server-sent event streams).
//
// Every parser is pure: it reads its inputs, never performs I/O, never
// reads the clock (callers pass now explicitly), and never panics on
// malformed input. Values that cannot be parsed are ignored field by
// field, so a single garbage header does not hide the others.
//
// Supported shapes are those documented by OpenAI (and OpenAI-compatible
// providers such as Groq), Anthropic and Google Gemini.
package signals
