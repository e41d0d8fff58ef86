package signals

import (
	"bytes"
	"encoding/json"
	"math"
	"unicode/utf8"
)

// jsonLevels is the deepest nesting encoding/json decodes.
const jsonLevels = 10000

// validValue returns the JSON object or array at the start of b (after
// white space), or false when b does not start with one that
// encoding/json's Decoder would decode. What follows the value is
// ignored, as the Decoder does. It allocates nothing.
func validValue(b []byte) ([]byte, bool) {
	s := scanner{b: b, levels: jsonLevels}
	s.space()
	start := s.i
	if s.i >= len(b) || b[s.i] != '{' && b[s.i] != '[' {
		return nil, false
	}
	if !s.value(-1) { // the value opens level 1
		return nil, false
	}
	return b[start:s.i], true
}

// members calls f with the quoted key and the value of each member of
// obj, a valid JSON object, in order.
func members(obj []byte, f func(key, val []byte)) {
	s := scanner{b: obj, i: 1, levels: math.MaxInt, trusted: true}
	s.space()
	if s.eat('}') {
		return
	}
	for {
		s.space()
		k := s.i
		s.str()
		key := obj[k:s.i]
		s.space()
		s.eat(':')
		s.space()
		v := s.i
		s.value(0)
		f(key, obj[v:s.i])
		s.space()
		if !s.eat(',') {
			return
		}
	}
}

// elements calls f with each element of arr, a valid JSON array.
func elements(arr []byte, f func(val []byte)) {
	s := scanner{b: arr, i: 1, levels: math.MaxInt, trusted: true}
	s.space()
	if s.eat(']') {
		return
	}
	for {
		s.space()
		v := s.i
		s.value(0)
		f(arr[v:s.i])
		s.space()
		if !s.eat(',') {
			return
		}
	}
}

// member returns the value of the last member of the valid JSON object
// obj named name, as a decoded map holds it, or nil.
func member(obj []byte, name string) []byte {
	var val []byte
	members(obj, func(k, v []byte) {
		if keyIs(k, name) {
			val = v
		}
	})
	return val
}

// keyIs reports whether a quoted JSON string decodes to name, which is
// ASCII.
func keyIs(quoted []byte, name string) bool {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && k == name
}

// keyName returns a quoted JSON string decoded; one without escapes or
// invalid UTF-8 is returned in place.
func keyName(quoted []byte) []byte {
	if inner := quoted[1 : len(quoted)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return inner
	}
	var k string
	_ = json.Unmarshal(quoted, &k)
	return []byte(k)
}

// isObject reports whether a valid JSON value is an object.
func isObject(v []byte) bool { return len(v) > 0 && v[0] == '{' }

// isString reports whether a valid JSON value is a string.
func isString(v []byte) bool { return len(v) > 0 && v[0] == '"' }

// isNumber reports whether a valid JSON value is a number.
func isNumber(v []byte) bool { return len(v) > 0 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9') }
