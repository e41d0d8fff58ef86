package signals

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf8"
)

// Model returns the "model" member of the JSON object in body, or "" when
// body is not an object or has no such member holding a string. It reads
// only the top level of the object, skipping the values of other members
// without decoding them, so it costs no allocation for a plain model name.
// When a key occurs more than once, the last one wins, as with
// encoding/json. Malformed JSON, or JSON nested deeper than encoding/json
// decodes (10,000 levels), yields "".
func Model(body []byte) string {
	s := scanner{b: body, levels: jsonLevels}
	s.space()
	if !s.eat('{') {
		return ""
	}
	model := ""
	s.space()
	if s.eat('}') {
		return s.end(model)
	}
	for {
		s.space()
		kStart := s.i
		if !s.str() {
			return ""
		}
		key := body[kStart:s.i]
		s.space()
		if !s.eat(':') {
			return ""
		}
		s.space()
		vStart := s.i
		if !s.value(0) {
			return ""
		}
		if string(key) == `"model"` || isEscapedModel(key) {
			model = stringValue(body[vStart:s.i])
		}
		s.space()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return s.end(model)
		}
		return ""
	}
}

// isEscapedModel reports whether a quoted key with escapes decodes to
// "model".
func isEscapedModel(key []byte) bool {
	for _, c := range key {
		if c == '\\' {
			var k string
			return json.Unmarshal(key, &k) == nil && k == "model"
		}
	}
	return false
}

// stringValue decodes a JSON value that is a string; any other value
// yields "" (as a non-string "model" does for encoding/json's string
// field, which fails, or for a null, which leaves it empty).
func stringValue(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	inner := v[1 : len(v)-1]
	plain := utf8.Valid(inner)
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(inner)
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// maxDepth bounds the nesting the scanner follows.
const maxDepth = 1000

// scanner walks JSON text without building values.
type scanner struct {
	b []byte
	i int
	// levels, when not 0, replaces maxDepth: it is the deepest nesting
	// of objects and arrays accepted, counting the outermost value as
	// level 1 (value(d) opens level d+2), as encoding/json counts it.
	levels int
	// trusted says that b is valid JSON, already checked: strings and
	// scalars are skipped without being checked again.
	trusted bool
}

// end returns model if only white space follows the object.
func (s *scanner) end(model string) string {
	s.space()
	if s.i != len(s.b) {
		return ""
	}
	return model
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str skips a string, escapes included.
func (s *scanner) str() bool {
	if !s.eat('"') {
		return false
	}
	if s.trusted {
		return s.trustedStr()
	}
	for s.i < len(s.b) {
		// Eight bytes at a time while none of them is a quote, a
		// backslash or a control character.
		for s.i+8 <= len(s.b) && plain8(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return true
		case c == '\\':
			if !s.escape() {
				return false
			}
		case c < 0x20:
			return false
		}
	}
	return false
}

// plain8 reports whether none of the eight bytes of x is a quote, a
// backslash or below 0x20.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(v uint64) bool { return (v-ones)&^v&highs != 0 }
	below := (x-ones*0x20)&^x&highs != 0
	return !below && !zero(x^(ones*'"')) && !zero(x^(ones*'\\'))
}

// trustedStr skips the rest of a string of valid JSON: up to the first
// quote not escaped by an odd run of backslashes.
func (s *scanner) trustedStr() bool {
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			s.i = len(s.b)
			return false
		}
		s.i += j + 1
		k := s.i - 2
		for k >= 0 && s.b[k] == '\\' {
			k--
		}
		if (s.i-2-k)%2 == 0 {
			return true
		}
	}
}

// escape skips the rest of an escape sequence after its backslash.
func (s *scanner) escape() bool {
	if s.i >= len(s.b) {
		return false
	}
	c := s.b[s.i]
	s.i++
	switch c {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return true
	case 'u':
		if s.i+4 > len(s.b) {
			return false
		}
		for _, h := range s.b[s.i : s.i+4] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return false
			}
		}
		s.i += 4
		return true
	}
	return false
}

// value skips one value of any kind.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.b) || s.levels == 0 && depth > maxDepth {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.str()
	case c == '{' || c == '[':
		if s.levels != 0 && depth+2 > s.levels {
			return false
		}
		return s.compound(depth)
	default:
		// A number or a literal: the run of characters up to a
		// delimiter. Malformed ones are left to be caught by a strict
		// decoder; the scanner only needs to find where they end.
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r', ':', '"', '{', '[':
				return s.i > start && (s.trusted || validScalar(s.b[start:s.i]))
			}
			s.i++
		}
		return s.i > start && validScalar(s.b[start:s.i])
	}
}

// validScalar reports whether v is a JSON number or literal.
func validScalar(v []byte) bool {
	switch string(v) {
	case "true", "false", "null":
		return true
	}
	return validNumber(v)
}

// validNumber reports whether v is a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(v []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(v) && '0' <= v[i] && v[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}

// compound skips an object or an array.
func (s *scanner) compound(depth int) bool {
	open := s.b[s.i]
	s.i++
	s.space()
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	if s.eat(closer) {
		return true
	}
	for {
		s.space()
		if open == '{' {
			if !s.str() {
				return false
			}
			s.space()
			if !s.eat(':') {
				return false
			}
			s.space()
		}
		if !s.value(depth + 1) {
			return false
		}
		s.space()
		if s.eat(',') {
			continue
		}
		return s.eat(closer)
	}
}
