package signals

import "encoding/binary"

// The JSON that AnswerUsage reads, one byte at a time (a run of a
// string's plain bytes or of a number's digits at once), so that an answer
// can be read in pieces of any size: a state for what may come next, and
// a stack of the objects and arrays open.

// jsonState is what AnswerUsage expects next.
type jsonState uint8

const (
	jsStart     jsonState = iota // white space, then the answer
	jsValue                      // a value
	jsFirstElem                  // a value or ']'
	jsFirstKey                   // a key or '}'
	jsKey                        // a key
	jsColon                      // ':'
	jsNext                       // ',' or the closer of the open object or array
	jsString                     // the rest of a string
	jsEscape                     // the rest of an escape, after its backslash
	jsMinus                      // a number's first digit, after '-'
	jsZero                       // the rest of a number that starts with 0
	jsInt                        // more integer digits, or the rest of the number
	jsDot                        // a fraction's first digit
	jsFrac                       // more fraction digits, or an exponent
	jsE                          // an exponent's sign or first digit
	jsESign                      // an exponent's first digit
	jsExp                        // more exponent digits
	jsLiteral                    // the rest of true, false or null
	jsDone                       // nothing: the answer has ended
	jsFailed                     // nothing: the answer is not JSON
)

// step reads p[i] and returns the index of the last byte it read: a
// run of a string's plain bytes or of digits is read at once, and the
// byte that ends a number is left to be read again.
func (a *AnswerUsage) step(p []byte, i int) int {
	c := p[i]
	switch a.state {
	case jsStart:
		switch c {
		case ' ', '\t', '\n', '\r':
		case '{':
			a.recordDepth = 1
			a.open(c)
		case '[':
			a.recordDepth = 2
			a.open(c)
		default:
			a.state = jsFailed
		}
	case jsValue, jsFirstElem:
		switch {
		case isSpace(c):
		case c == ']' && a.state == jsFirstElem:
			a.close(c, p, i)
		default:
			return a.begin(p, i)
		}
	case jsFirstKey, jsKey:
		switch {
		case isSpace(c):
		case c == '}' && a.state == jsFirstKey:
			a.close(c, p, i)
		case c == '"':
			a.state, a.inKey = jsString, true
			a.watchKey = a.depth == a.recordDepth || a.holding != 0 && a.depth == a.holdDepth
			a.keyLen = 0
			a.addKey(p[i : i+1])
		default:
			a.state = jsFailed
		}
	case jsColon:
		switch {
		case isSpace(c):
		case c == ':':
			a.state = jsValue
		default:
			a.state = jsFailed
		}
	case jsNext:
		obj := a.inObject()
		switch {
		case isSpace(c):
		case c == ',' && obj:
			a.state = jsKey
		case c == ',':
			a.state = jsValue
		case c == '}' && obj, c == ']' && !obj:
			a.close(c, p, i)
		default:
			a.state = jsFailed
		}
	case jsString:
		return a.str(p, i)
	case jsEscape:
		a.addKey(p[i : i+1])
		switch {
		case a.hex > 0 && isHex(c):
			if a.hex--; a.hex == 0 {
				a.state = jsString
			}
		case a.hex > 0:
			a.state = jsFailed
		case c == 'u':
			a.hex = 4
		case c == '"', c == '\\', c == '/', c == 'b', c == 'f', c == 'n', c == 'r', c == 't':
			a.state = jsString
		default:
			a.state = jsFailed
		}
	case jsMinus, jsZero, jsInt, jsDot, jsFrac, jsE, jsESign, jsExp:
		return a.number(p, i)
	case jsLiteral:
		if c != a.lit[0] {
			a.state = jsFailed
			break
		}
		if a.lit = a.lit[1:]; a.lit == "" {
			a.end(p, i+1)
		}
	}
	return i
}

// begin reads p[i], the first byte of a value, and returns the index of
// the last byte it read, as step does.
func (a *AnswerUsage) begin(p []byte, i int) int {
	c := p[i]
	if s := a.keepNext; s != 0 {
		a.startKeep(s)
		a.keeping, a.keepDepth, a.keepFrom, a.keepOver = s, a.depth, i, false
	}
	if s := a.holdNext; s != 0 {
		a.drop(s) // the last member of the name counts
		if c == '{' {
			a.holding, a.holdDepth = s, a.depth+1
		}
	}
	a.keepNext, a.holdNext = 0, 0
	switch {
	case c == '{' || c == '[':
		a.open(c)
	case c == '"':
		a.state, a.inKey = jsString, false
		if i+1 < len(p) {
			return a.str(p, i+1)
		}
	case c == '-' || isDigit(c):
		a.state = jsMinus
		if c != '-' {
			a.state = jsInt
			if c == '0' {
				a.state = jsZero
			}
		}
		return a.number(p, i+1)
	case c == 't':
		a.state, a.lit = jsLiteral, "rue"
	case c == 'f':
		a.state, a.lit = jsLiteral, "alse"
	case c == 'n':
		a.state, a.lit = jsLiteral, "ull"
	default:
		a.state = jsFailed
	}
	return i
}

// str reads the rest of a string from p[i]: its plain bytes at once, then
// the quote or backslash after them.
func (a *AnswerUsage) str(p []byte, i int) int {
	j := i
	for j+8 <= len(p) && plain8(binary.LittleEndian.Uint64(p[j:])) {
		j += 8
	}
	for j < len(p) && p[j] != '"' && p[j] != '\\' && p[j] >= 0x20 {
		j++
	}
	if j == len(p) {
		a.addKey(p[i:j])
		return j - 1
	}
	a.addKey(p[i : j+1])
	switch p[j] {
	case '"':
		if a.inKey {
			a.state = jsColon
			a.keyEnd()
		} else {
			a.end(p, j+1)
		}
	case '\\':
		a.state, a.hex = jsEscape, 0
	default:
		a.state = jsFailed
	}
	return j
}

// number reads the rest of a number from p[i], up to the byte after it,
// which is left to be read again.
func (a *AnswerUsage) number(p []byte, i int) int {
	st := a.state
	for j := i; j < len(p); j++ {
		c := p[j]
		switch {
		case isDigit(c):
			switch st {
			case jsMinus:
				if c == '0' {
					st = jsZero
				} else {
					st = jsInt
				}
			case jsZero:
				a.end(p, j) // "01" is 0, then a 1 that fails
				return j - 1
			case jsDot:
				st = jsFrac
			case jsE, jsESign:
				st = jsExp
			}
		case c == '.' && (st == jsZero || st == jsInt):
			st = jsDot
		case (c == 'e' || c == 'E') && (st == jsZero || st == jsInt || st == jsFrac):
			st = jsE
		case (c == '+' || c == '-') && st == jsE:
			st = jsESign
		case st == jsZero || st == jsInt || st == jsFrac || st == jsExp:
			a.end(p, j)
			return j - 1
		default:
			a.state = jsFailed
			return j
		}
	}
	a.state = st
	return len(p) - 1
}

// open opens an object or an array.
func (a *AnswerUsage) open(c byte) {
	if a.depth == jsonLevels {
		a.state = jsFailed
		return
	}
	a.push(c == '{')
	if c == '[' {
		a.state = jsFirstElem
		return
	}
	a.state = jsFirstKey
	if a.depth == a.recordDepth {
		a.kept = [numSlots]region{}
		a.buf = a.buf[:0]
	}
}

// close reads c, the closer of the open object or array, at p[i].
func (a *AnswerUsage) close(c byte, p []byte, i int) {
	if c == '}' && a.depth == a.recordDepth {
		a.mergeRecord()
	}
	a.depth--
	a.end(p, i+1)
}

// end ends the value that ends before p[end].
func (a *AnswerUsage) end(p []byte, end int) {
	if a.keeping != 0 && a.depth == a.keepDepth {
		a.keep(p[a.keepFrom:end])
		a.kept[a.keeping-1].to, a.kept[a.keeping-1].ok = len(a.buf), !a.keepOver
		a.keeping = 0
	}
	if a.holding != 0 && a.depth == a.holdDepth-1 {
		a.holding = 0
	}
	if a.depth == 0 {
		a.state = jsDone
	} else {
		a.state = jsNext
	}
}

// push records an object (obj) or array opened.
func (a *AnswerUsage) push(obj bool) {
	d := a.depth
	a.depth++
	if d < 64 {
		a.low = a.low&^(1<<d) | bit(obj)<<d
		return
	}
	w, b := (d-64)/64, uint((d-64)%64)
	if w == len(a.deeper) {
		a.deeper = append(a.deeper, 0)
	}
	a.deeper[w] = a.deeper[w]&^(1<<b) | bit(obj)<<b
}

// inObject reports whether the innermost container open is an object.
func (a *AnswerUsage) inObject() bool {
	d := a.depth - 1
	if d < 64 {
		return a.low>>d&1 == 1
	}
	return a.deeper[(d-64)/64]>>uint((d-64)%64)&1 == 1
}

func bit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
