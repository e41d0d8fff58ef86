package signals

// imageTally sums the tokens of the images in a request for its model,
// whose name tells how OpenAI counts them (and gemini, how Gemini counts
// them, its PDF pages and video frames), and, in bound, those of the
// images of unknown size; in docTokens, those of its PDF documents; and in
// mediaTokens those of its audio and video, in mediaBound those of unknown
// length.
type imageTally struct {
	model                   string
	gemini                  geminiMedia
	tokens, bound           int64
	docTokens               int64
	mediaTokens, mediaBound int64
	// refs counts the files whose charge is a guess for a reference;
	// ref and refTokens are the first's.
	refs      int
	ref       []byte
	refTokens int64
}

// add counts the charge of one image.
func (t *imageTally) add(c imageCharge) {
	t.tokens = satAdd(t.tokens, c.tokens)
	if c.bound {
		t.bound = satAdd(t.bound, c.tokens)
	}
}

// addDocument counts the charge of one PDF document.
func (t *imageTally) addDocument(c imageCharge) {
	t.docTokens = satAdd(t.docTokens, c.tokens)
	t.addRef(c)
}

// addRef counts c if it is a guess for a reference.
func (t *imageTally) addRef(c imageCharge) {
	if c.ref == nil {
		return
	}
	if t.refs++; t.refs == 1 {
		t.ref, t.refTokens = c.ref, c.tokens
	}
}

// addMedia counts the charge of one audio or video file.
func (t *imageTally) addMedia(c imageCharge) {
	t.mediaTokens = satAdd(t.mediaTokens, c.tokens)
	if c.bound {
		t.mediaBound = satAdd(t.mediaBound, c.tokens)
	}
	t.addRef(c)
}
