package signals

// PerMessageTokens is the fixed overhead EstimateTokens adds for each
// message, covering role markers and separators that the text alone does
// not account for.
const PerMessageTokens = 4

// Request is what a request body reveals about its token cost.
type Request struct {
	// Model is the "model" field, or "" when absent.
	Model string
	// MaxTokens is the output cap from "max_tokens",
	// "max_completion_tokens", "max_output_tokens", Gemini's
	// generationConfig.maxOutputTokens, Amazon Bedrock's Converse API's
	// inferenceConfig.maxTokens, or, in the requests of other models on
	// Bedrock, Meta Llama's "max_gen_len", Amazon Nova's
	// inferenceConfig.max_new_tokens or Amazon Titan's
	// textGenerationConfig.maxTokenCount, in that order of preference; 0
	// when none is present. It caps each completion: see Choices.
	MaxTokens int64
	// Choices is the number of completions the request asks for, each
	// capped at MaxTokens: OpenAI's "n" (or the legacy completions'
	// "best_of", which generates that many, when larger) or Gemini's
	// generationConfig.candidateCount; 0 when none is present, which
	// means one.
	Choices int64
	// PromptChars is the number of bytes of prompt text: message
	// contents (the tool calls and results among them), the system
	// prompt ("system" or "instructions"), "prompt" and "input" (and
	// Amazon Titan's "inputText", Gemini's "contents" and "systemInstruction", and the "content" of
	// an embedContent or of each of batchEmbedContents' "requests"), and
	// the tool definitions ("tools", the older "functions", or the
	// Converse API's "toolConfig"), which the providers put in the
	// prompt, at the length of their JSON. Bytes
	// over-count non-ASCII text, which errs on the side of caution.
	// Images are counted in ImageTokens, PDF documents in
	// DocumentTokens, and audio and video in MediaTokens.
	PromptChars int64
	// ImageTokens is the tokens of the images among the prompt's content
	// parts, by each provider's documented rule (see image.go): OpenAI's
	// {"type":"image_url"} and {"type":"input_image"}, Anthropic's
	// {"type":"image"} and Gemini's inlineData and fileData of an image
	// MIME type; an OpenAI image by the rule of the model named. An inline
	// image's size is read from its header; one of
	// unknown size counts the most its provider charges for an image. It
	// saturates instead of overflowing.
	ImageTokens int64
	// UnsizedImageTokens is the part of ImageTokens charged for images of
	// unknown size (a URL, a file, an unreadable header): a bound, the
	// most their rule allows, rather than a count.
	UnsizedImageTokens int64
	// DocumentTokens is the tokens of the PDF documents among the
	// prompt's content parts (see document.go): Anthropic's
	// {"type":"document"} whose source is base64, a URL or a file,
	// OpenAI's {"type":"file"} and {"type":"input_file"} (an inline file
	// that is no PDF, whose text alone OpenAI gives the model, counts its
	// bytes at four a token), and Gemini's inlineData and fileData of MIME
	// type application/pdf. An inline PDF's pages are counted as its page objects (or, when it shows none,
	// estimated from its size, one for each 50 KiB begun); one given by
	// reference (a URL, a file id) counts one page. A page costs 3,000
	// tokens at Anthropic, at Gemini what the model's generation counts
	// at the media resolution asked for (see geminimedia.go: 258 at Gemini
	// 2, 560 at Gemini 3 by default), and at OpenAI the named model's
	// tokens for an image of a 1700x2200 px page plus 800 for its text.
	// They are a bound rather than a count: each figure is the most its
	// provider gives for a page (Anthropic's range is 1,500 to 3,000), and
	// pages estimated from a PDF's size may be far off. It saturates
	// instead of overflowing.
	DocumentTokens int64
	// MediaTokens is the tokens of the audio and video among the
	// prompt's content parts (see mediatokens.go): OpenAI's
	// {"type":"input_audio"} and Gemini's inlineData and fileData of an
	// audio or video MIME type. An inline file's playing time is read
	// from its header (WAV, AIFF, MP3, AAC, FLAC, Ogg, MP4, QuickTime and
	// 3GP, AVI, WebM and Matroska) and charged 32 tokens a second of
	// audio at Gemini, 20 at OpenAI, and a second of video at Gemini its
	// frames (one a second, or the videoMetadata's fps; 258 tokens each
	// at Gemini 2, 70 at Gemini 3 by default, see geminimedia.go) plus 42
	// for its sound and timestamps, for the clip its videoMetadata names,
	// if any. It saturates instead of overflowing.
	MediaTokens int64
	// UnknownLengthMediaTokens is the part of MediaTokens charged for
	// files whose playing time is unknown: an inline one whose header
	// does not give it, charged from its size as if it held at least
	// 16 kbit/s of audio or 100 kbit/s of video (a bound), and one given
	// by reference, charged a minute (a guess) or the length of its clip
	// (a bound).
	UnknownLengthMediaTokens int64
	// Reference names the one file of the request given by reference
	// whose charge is a guess (a PDF charged one page, audio or video
	// charged a minute): its URI, URL or file id; "" when the request has
	// no such file, or more than one. ReferenceTokens is that guess,
	// part of DocumentTokens or MediaTokens. A caller that learns what
	// the file costs (from the usage of an answer) may charge that
	// instead.
	Reference       string
	ReferenceTokens int64
	// Messages is the number of messages (objects) in "messages" (or
	// Gemini's "contents", or an array "input"); the strings and token
	// ids of an embedding's "input" are no messages.
	Messages int64
	// Stream reports whether "stream" is true.
	Stream bool
	// PreviousResponseID is the Responses API's "previous_response_id":
	// the response whose conversation the server adds to this request's
	// input. "" when absent.
	PreviousResponseID string
	// Conversation is the Responses API's "conversation" (its id, given
	// as a string or as an object's "id"): the conversation whose items
	// the server adds to this request's input. "" when absent.
	Conversation string
}

// EstimateTokens returns a conservative token estimate for the request:
// EstimateOutputTokens plus EstimateInputTokens. The result saturates
// instead of overflowing.
func (r Request) EstimateTokens() int64 {
	return satAdd(r.EstimateOutputTokens(), r.EstimateInputTokens())
}

// EstimateOutputTokens returns the most output tokens the request may
// generate, as the providers count it against their limits: MaxTokens for
// each of its Choices. The result saturates instead of overflowing.
func (r Request) EstimateOutputTokens() int64 {
	return satMul(max(r.MaxTokens, 0), max(r.Choices, 1))
}

// EstimateInputTokens returns a conservative estimate of the request's
// input tokens: one token per four bytes of prompt text, plus
// PerMessageTokens for each message, plus ImageTokens, DocumentTokens
// and MediaTokens. The result saturates instead of overflowing.
func (r Request) EstimateInputTokens() int64 {
	n := satAdd(satAdd(max(r.PromptChars, 0)/4, satMul(max(r.Messages, 0), PerMessageTokens)), max(r.ImageTokens, 0))
	return satAdd(satAdd(n, max(r.DocumentTokens, 0)), max(r.MediaTokens, 0))
}

// ParseRequest reads a JSON request body for OpenAI's chat completions,
// completions and responses APIs, Anthropic's messages API, Gemini's
// generateContent or Amazon Bedrock's Converse API. Anything it does not understand is ignored; a body
// that is not a JSON object yields the zero Request. It reads the body as
// encoding/json would decode it (the last of duplicate keys winning),
// without decoding it: it allocates the model's name, each escaped key it
// must compare, and the keys of large objects in tool definitions (to
// find their duplicates), never a copy of the body.
func ParseRequest(body []byte) Request { return ParseRequestFor(body, "") }

// ParseRequestFor is ParseRequest for a request to model, which names the
// model when the body does not: a Gemini request's is in its URL. A
// Gemini model's generation tells what its images, PDF pages and video
// frames cost (see geminimedia.go).
func ParseRequestFor(body []byte, model string) Request {
	var r Request
	obj, ok := validValue(body)
	if !ok || !isObject(obj) {
		return r
	}
	var f struct {
		model, stream                             []byte
		maxTokens, maxCompletionTokens, maxOutput []byte
		n, bestOf, generationConfig               []byte
		messages, contents, input                 []byte
		system, instructions, prompt              []byte
		systemInstruction, systemInstructionSnake []byte
		tools, functions, toolConfig              []byte
		inferenceConfig, maxGenLen                []byte
		textGenerationConfig, inputText           []byte
		content, requests                         []byte
		previousResponseID, conversation          []byte
	}
	members(obj, func(k, v []byte) {
		switch string(keyName(k)) {
		case "model":
			f.model = v
		case "previous_response_id":
			f.previousResponseID = v
		case "conversation":
			f.conversation = v
		case "stream":
			f.stream = v
		case "max_tokens":
			f.maxTokens = v
		case "max_completion_tokens":
			f.maxCompletionTokens = v
		case "max_output_tokens":
			f.maxOutput = v
		case "n":
			f.n = v
		case "best_of":
			f.bestOf = v
		case "generationConfig":
			f.generationConfig = v
		case "messages":
			f.messages = v
		case "contents":
			f.contents = v
		case "input":
			f.input = v
		case "system":
			f.system = v
		case "instructions":
			f.instructions = v
		case "prompt":
			f.prompt = v
		case "systemInstruction":
			f.systemInstruction = v
		case "system_instruction":
			f.systemInstructionSnake = v
		case "tools":
			f.tools = v
		case "functions":
			f.functions = v
		case "toolConfig":
			f.toolConfig = v
		case "inferenceConfig":
			f.inferenceConfig = v
		case "max_gen_len":
			f.maxGenLen = v
		case "textGenerationConfig":
			f.textGenerationConfig = v
		case "inputText":
			f.inputText = v
		case "content":
			f.content = v
		case "requests":
			f.requests = v
		}
	})
	r.Model = stringValue(f.model)
	r.PreviousResponseID = stringValue(f.previousResponseID)
	if c := f.conversation; isObject(c) {
		r.Conversation = stringValue(member(c, "id"))
	} else {
		r.Conversation = stringValue(c)
	}
	r.Stream = string(f.stream) == "true"
	for _, v := range [...][]byte{f.maxTokens, f.maxCompletionTokens, f.maxOutput} {
		if n, ok := rawCount(v); ok {
			r.MaxTokens = n
			break
		}
	}
	for _, v := range [...][]byte{f.n, f.bestOf} {
		if n, ok := rawCount(v); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	var level mediaLevel
	if cfg := f.generationConfig; isObject(cfg) {
		var maxOut, candidates, resolution []byte
		members(cfg, func(k, v []byte) {
			switch string(keyName(k)) {
			case "maxOutputTokens":
				maxOut = v
			case "candidateCount":
				candidates = v
			case "mediaResolution":
				resolution = v
			}
		})
		level = parseMediaLevel(resolution)
		if r.MaxTokens == 0 {
			r.MaxTokens, _ = rawCount(maxOut)
		}
		if n, ok := rawCount(candidates); ok {
			r.Choices = max(r.Choices, n)
		}
	}
	// The caps of Amazon Bedrock's Converse API and of its models' own
	// requests, when none of the above is set.
	for _, v := range [...][]byte{
		memberOf(f.inferenceConfig, "maxTokens"), f.maxGenLen,
		memberOf(f.inferenceConfig, "max_new_tokens"),
		memberOf(f.textGenerationConfig, "maxTokenCount"),
	} {
		if r.MaxTokens == 0 {
			r.MaxTokens, _ = rawCount(v)
		}
	}
	for _, list := range [...][]byte{f.messages, f.contents, f.input} {
		if len(list) > 0 && list[0] == '[' {
			elements(list, func(e []byte) {
				if isObject(e) {
					r.Messages = satAdd(r.Messages, 1)
				}
			})
		}
	}
	if r.Model != "" {
		model = r.Model
	}
	images := imageTally{model: model, gemini: geminiMedia{gen: geminiGeneration(model), level: level}}
	for _, v := range [...][]byte{f.messages, f.system, f.instructions, f.prompt, f.input, f.inputText, f.contents, f.systemInstruction, f.systemInstructionSnake, f.content, f.requests} {
		r.PromptChars = satAdd(r.PromptChars, textLen(v, 0, &images))
	}
	r.ImageTokens, r.UnsizedImageTokens = images.tokens, images.bound
	r.DocumentTokens = images.docTokens
	r.MediaTokens, r.UnknownLengthMediaTokens = images.mediaTokens, images.mediaBound
	if images.refs == 1 {
		r.Reference, r.ReferenceTokens = stringValue(images.ref), images.refTokens
	}
	for _, v := range [...][]byte{f.tools, f.functions, f.toolConfig} {
		if v != nil {
			r.PromptChars = satAdd(r.PromptChars, jsonLen(v, 0))
		}
	}
	return r
}

// memberOf returns the member name of v when v is a JSON object (see
// member), or nil.
func memberOf(v []byte, name string) []byte {
	if !isObject(v) {
		return nil
	}
	return member(v, name)
}
