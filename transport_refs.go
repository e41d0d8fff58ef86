package ratellmiter

import (
	"math"

	"github.com/ratellmiter/ratellmiter/internal/signals"
)

// A file a request gives by reference (a PDF by URL or file id, audio or
// video by URI) is charged a guess before the first answer: one page, a
// minute. The transport learns what such a file costs from the usage of
// the answers to requests that name it alone among such files: what the
// answer reports as input, less the rest of the request's estimate. A
// later request that names the same file, through the same limiter, is
// charged that instead of the guess. What is learned is kept for
// maxRefCosts files, the oldest forgotten first; it stays a bound,
// charged at most a minute's budget, as the guess was.

// maxRefCosts is the number of files whose cost a transport keeps.
const maxRefCosts = 1024

// refCosts holds the learned costs of files given by reference, by
// limiter and reference (see learnedKey). It is safe for concurrent use.
type refCosts struct {
	cost learnedMap[int64]
}

// get returns the learned cost of key.
func (c *refCosts) get(key string) (int64, bool) { return c.cost.get(key) }

// set records that key cost tokens, forgetting the oldest key when full.
func (c *refCosts) set(key string, tokens int64) {
	c.cost.set(key, tokens, maxRefCosts)
}

// estimate returns the token charge of a request r of limiter l, its
// input changed by delta (less the tokens its prompt reads from the
// provider's cache, plus those the server adds to it), of which extra
// is a bound (see transport_context.go), with the
// learned cost of its one guessed reference, if known, in place of the
// guess; and, when r names such a reference, a function that learns its
// cost from the input tokens the answer reports (nil otherwise). The
// tokens of its images of unknown size, of its PDFs (the most a page may
// cost, for pages counted or estimated), of its audio and video of
// unknown length, and of a learned reference are a bound: they are
// charged only as far as a minute of the budget allows, so such a request
// waits for a whole minute's budget instead of being refused as too
// large; and so is outGuess of its output, a guess of it (see
// outputMeans).
func (c *refCosts) estimate(l *BucketRateLimiter, r signals.Request, delta, extra, outGuess int64) (AcquireOption, func(input int64)) {
	in, out := addClamped(r.EstimateInputTokens(), delta), r.EstimateOutputTokens()
	bound := min(min(r.UnsizedImageTokens, math.MaxInt32)+min(r.DocumentTokens, math.MaxInt32)+
		min(r.UnknownLengthMediaTokens, math.MaxInt32)+min(extra, math.MaxInt32), in)
	var learn func(int64)
	if r.Reference != "" {
		key := learnedKey(l, r.Reference)
		refCharge := r.ReferenceTokens
		if v, ok := c.get(key); ok {
			in = max(in-refCharge, 0) + v
			bound = max(bound-refCharge, 0) + min(v, math.MaxInt32)
			refCharge = v
		}
		others := max(in-refCharge, 0)
		learn = func(input int64) { c.set(key, max(input-others, 0)) }
	}
	return tokenCharge(in, out, bound, outGuess), learn
}

// addClamped returns a+b, for a >= 0, kept within [0, math.MaxInt64].
func addClamped(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return max(a+b, 0)
}
