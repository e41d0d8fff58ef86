package fakeprovider

import (
	"strings"
	"time"
)

// vocabulary is cycled through to build replies, one token per word.
var vocabulary = strings.Fields("This is a simulated reply from a fake provider that throttles like the real services do and always answers politely")

// reply is the content and usage of one admitted request.
type reply struct {
	seq       uint64
	created   time.Time
	model     string
	words     []string // each word is one token; words after the first start with a space
	input     int64
	output    int64
	truncated bool // the reply was cut at the request's max tokens
}

// text is the whole reply.
func (r reply) text() string { return strings.Join(r.words, "") }

// reply builds the reply to an admitted request with in input tokens and
// a cap of maxOut output tokens.
func (s *Server) reply(dec decision, req *chatRequest, in, maxOut int64, now time.Time) reply {
	n := min(int64(s.cfg.ReplyTokens), maxOut)
	words := make([]string, n)
	for i := range words {
		w := vocabulary[i%len(vocabulary)]
		if i > 0 {
			w = " " + w
		}
		words[i] = w
	}
	return reply{
		seq:       dec.seq,
		created:   now,
		model:     req.Model,
		words:     words,
		input:     in,
		output:    n,
		truncated: maxOut < int64(s.cfg.ReplyTokens),
	}
}
