// Package ratellmiter paces calls to rate-limited APIs, LLM providers above
// all, so that a program runs as fast as the provider allows and is not
// throttled.
//
// # Limiters and tickets
//
// A BucketRateLimiter hands out Tickets: at most ceil(R/60) in any
// one-second bucket and at most R in any sixty such buckets, spread evenly
// across each second instead of released in bursts. After a pause it ramps
// up over a few seconds. A call that is rate limited anyway hands its
// ticket back with the server's retry-after hint (Ticket.RateLimited): the
// whole limiter pauses, the call waits at the front of the line, and the
// limiter resumes when a probe (the service's IsBlocked, or one canary
// request) says the server accepts requests again. Acquire waits for a
// ticket, TryAcquire does not; every ticket ends with Done (or Abandon,
// when the call got no answer).
//
// Do and Wrap run a function under a limiter and retry it when it is rate
// limited, which is all most programs need:
//
//	limiter, err := ratellmiter.NewBucketRateLimiter(500) // requests per minute
//	...
//	answer, err := ratellmiter.Do(ctx, limiter, callTheModel)
//
// # HTTP clients and SDKs
//
// A Transport is an http.RoundTripper that takes a ticket for every request
// and finishes it when the answer's body is read to its end or closed.
// Handed to the official OpenAI, Anthropic or Gemini Go SDKs through their
// HTTP client option (with their own retries off), it retries 429s itself,
// reads the providers' rate-limit headers (a limit below the configured one
// is taken at once, a spent budget holds tickets until its reset) and
// charges token budgets from each request's body, corrected by the usage
// its answer reports. WithServiceLimiters routes each request to the
// limiter of the model it names.
//
// # Budgets
//
// Besides requests per minute, a limiter can keep tokens per minute
// (WithTokensPerMinute, or input and output apart), requests per day
// (WithRequestsPerDay) and calls in flight (WithMaxInFlight); Acquire with
// WithTokens charges a call, Ticket.Used corrects the charge. WithMaxWait
// bounds how long a call may wait for its ticket.
//
// # Services, processes and observation
//
// A RateLimitedService (NewService gives one) groups the limiters of the
// models of one provider and may probe it. WithStore shares one quota among
// the limiters of many processes (package redisstore keeps it in Redis). A
// Monitor owns the goroutines that probe and write the per-minute JSONL logs
// (ReadLog reads them; the llmiter command draws them); limiters join
// DefaultMonitor unless told otherwise, and nothing requires it. Stats
// reports a limiter's state; package metrics exports it to Prometheus.
package ratellmiter
