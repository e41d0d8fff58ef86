package signals

import "bytes"

// AnswerUsage reads the usage of a JSON answer as its bytes pass, as
// ParseUsage reads it from the whole body, but keeping only the usage
// objects, never the answer: an answer of any length is read in a few
// hundred bytes. Write it the answer's bytes in order, in pieces of any
// size, then ask Usage. The zero value is ready to use.
//
// It checks the answer as encoding/json's Decoder would decode it and
// reports no usage for one it would refuse. Usage objects beyond
// maxAnswerKept bytes in one object of the answer are left unread.
type AnswerUsage struct {
	parts usageParts // the figures of the objects read so far

	state  jsonState
	inKey  bool   // the string being read is a member's key
	hex    int    // the hex digits of a \u escape still to come
	lit    string // the rest of the literal being read
	depth  int    // the objects and arrays open
	low    uint64 // the first 64 of them: 1 for an object
	deeper []uint64

	// The objects whose members are read (records): the answer, or
	// each object in a top-level array.
	recordDepth int

	// A key of interest being read, with its quotes.
	watchKey bool
	key      [maxKeyBytes]byte
	keyLen   int

	// Slots are numbered from 1; 0 is none.
	// What the value that follows the key is: a usage object to keep
	// (keepNext, its slot) or the object a usage is nested in (holdNext).
	keepNext, holdNext int8
	// The value being kept: its slot, the depth it started at, where
	// it started in the current piece, and whether it outgrew the room.
	keeping   int8
	keepDepth int
	keepFrom  int
	keepOver  bool
	// The "message", "response" or "x_groq" object open, whose "usage"
	// member fills its slot, and its depth once open.
	holding   int8
	holdDepth int

	kept [numSlots]region // each slot's value in buf
	buf  []byte
	id   string // the answer's "id", when it is a string
}

// maxAnswerKept bounds the bytes AnswerUsage keeps for one record's
// usage objects (a provider's usage object takes a few hundred).
const maxAnswerKept = 1 << 20

// maxKeyBytes bounds a key read to be compared with the names of usage
// members ("usageMetadata" with every letter escaped is 80 bytes).
const maxKeyBytes = 96

// The slots of a record's usage objects, in the order ParseUsage merges
// them (see usageParts.merge), and of the answer's id.
const (
	slotUsage int8 = iota + 1
	slotMetadata
	slotMessage
	slotResponse
	slotGroq
	slotID   // not a usage object: the answer's "id"
	numSlots = slotID
)

// region is a kept value: buf[from:to], when ok.
type region struct {
	from, to int
	ok       bool
}

// Write reads p, the next bytes of the answer. It never fails.
func (a *AnswerUsage) Write(p []byte) (int, error) {
	for i := 0; i < len(p) && a.state < jsDone; i++ {
		i = a.step(p, i)
	}
	if a.keeping != 0 && a.state < jsDone {
		a.keep(p[a.keepFrom:])
		a.keepFrom = 0
	}
	return len(p), nil
}

// ResponseID returns the answer's "id" (an OpenAI Responses API answer's
// names the response, which a later request may continue with
// previous_response_id): the last member of that name of the answer's
// object, when it is a string and the answer valid JSON; else "".
func (a *AnswerUsage) ResponseID() string {
	if a.state != jsDone {
		return ""
	}
	return a.id
}

// Usage returns the usage read, or none unless the answer was valid JSON
// up to the end of its object or array.
func (a *AnswerUsage) Usage() Usage {
	if a.state != jsDone {
		return Usage{}
	}
	return a.parts.usage()
}

// keyEnd reads the key just read: one naming a usage object, or an
// object that holds one, says what to do with the value that follows.
func (a *AnswerUsage) keyEnd() {
	if !a.watchKey || a.keyLen > maxKeyBytes {
		return
	}
	name := a.key[1 : a.keyLen-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		name = keyName(bytes.Clone(a.key[:a.keyLen]))
	}
	if a.depth != a.recordDepth { // in a holder
		if string(name) == "usage" {
			a.keepNext = a.holding
		}
		return
	}
	switch string(name) {
	case "id":
		if a.recordDepth == 1 {
			a.keepNext = slotID
		}
	case "usage":
		a.keepNext = slotUsage
	case "usageMetadata":
		a.keepNext = slotMetadata
	case "message":
		a.holdNext = slotMessage
	case "response":
		a.holdNext = slotResponse
	case "x_groq":
		a.holdNext = slotGroq
	}
}

// addKey adds b to the key being read, if it is watched.
func (a *AnswerUsage) addKey(b []byte) {
	if !a.inKey || !a.watchKey {
		return
	}
	if a.keyLen+len(b) > maxKeyBytes {
		a.keyLen = maxKeyBytes + 1 // too long to be a usage member's name
		return
	}
	a.keyLen += copy(a.key[a.keyLen:], b)
}

// drop forgets slot s's value, and gives back its room when it is the
// last value kept.
func (a *AnswerUsage) drop(s int8) {
	if r := a.kept[s-1]; r.ok && r.to == len(a.buf) {
		a.buf = a.buf[:r.from]
	}
	a.kept[s-1] = region{}
}

// startKeep starts slot s's new value, in place of its last one.
func (a *AnswerUsage) startKeep(s int8) {
	a.drop(s)
	a.kept[s-1] = region{from: len(a.buf)}
}

// keep adds b to the value being kept. When buf is full, the values kept
// are first moved to its front, over the room of values replaced since;
// it grows when they still take more than half of it.
func (a *AnswerUsage) keep(b []byte) {
	if a.keepOver {
		return
	}
	if len(a.buf)+len(b) > cap(a.buf) {
		a.compact()
		need := len(a.buf) + len(b)
		if need > maxAnswerKept {
			a.keepOver = true
			return
		}
		if need > cap(a.buf) || 2*len(a.buf) > cap(a.buf) && cap(a.buf) < maxAnswerKept {
			grown := make([]byte, len(a.buf), min(max(2*cap(a.buf), need, 256), maxAnswerKept))
			copy(grown, a.buf)
			a.buf = grown
		}
	}
	a.buf = append(a.buf, b...)
}

// compact moves the live values kept, the one being kept included, to
// the front of buf, in order.
func (a *AnswerUsage) compact() {
	live := a.kept
	if a.keeping != 0 {
		live[a.keeping-1].to, live[a.keeping-1].ok = len(a.buf), true
	}
	n := 0
	for {
		next := -1
		for s, r := range live {
			if r.ok && (next < 0 || r.from < live[next].from) {
				next = s
			}
		}
		if next < 0 {
			break
		}
		r := &live[next]
		size := copy(a.buf[n:], a.buf[r.from:r.to])
		r.from, r.to, n = n, n+size, n+size
		r.ok = false // placed
		a.kept[next].from, a.kept[next].to = r.from, r.to
	}
	a.buf = a.buf[:n]
}

// mergeRecord merges the usage objects kept for the record that ends,
// and keeps the answer's id.
func (a *AnswerUsage) mergeRecord() {
	for _, r := range a.kept[:slotID-1] {
		if r.ok && isObject(a.buf[r.from:r.to]) {
			a.parts.mergeFigures(a.buf[r.from:r.to])
		}
	}
	if r := a.kept[slotID-1]; r.ok && isString(a.buf[r.from:r.to]) {
		a.id = stringValue(a.buf[r.from:r.to])
	}
}
