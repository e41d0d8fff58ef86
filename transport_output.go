package ratellmiter

// A request that sets no output cap (OpenAI's max_tokens,
// max_completion_tokens or max_output_tokens, Gemini's maxOutputTokens)
// may generate any number of tokens, which the provider counts against
// its tokens per minute as they come. Charged no output before its answer,
// a burst of such requests would go out past the budget, and be charged
// only once their answers came back. The transport charges each the mean
// output of the uncapped answers of its model through the same limiter
// (the first answer's, then an average in which each new answer weighs
// outputWeight), and the usage corrects the charge as any other.

// outputWeight is the weight of a new answer in the mean output.
const outputWeight = 1.0 / 8

// maxOutputMeans is the number of models whose mean output a transport
// keeps.
const maxOutputMeans = 1024

// outputMeans holds the mean output of the uncapped answers, by limiter
// and model (see learnedKey). It is safe for concurrent use.
type outputMeans struct {
	mean learnedMap[float64]
}

// get returns the mean output of key's uncapped answers, 0 before the
// first.
func (m *outputMeans) get(key string) int64 {
	v, _ := m.mean.get(key)
	return int64(v + 0.5)
}

// add counts an uncapped answer of key that generated out tokens for
// each completion.
func (m *outputMeans) add(key string, out int64) {
	m.mean.update(key, maxOutputMeans, func(v float64, ok bool) float64 {
		if !ok {
			return float64(out)
		}
		return v + outputWeight*(float64(out)-v)
	})
}
