package kingdee

// The Save/BatchSave body without encoding/json's second look at the models.
//
// json.Marshal runs every json.RawMessage through its scanner (a state
// machine called once per byte) to validate and compact it and to escape
// <, >, & and U+2028/U+2029. Models come pre-encoded (the payload's
// canonical JSON), so appendModel does the same work in one hand-written
// pass: it accepts only what the scanner accepts and appends exactly what
// appendCompact would. Whatever it does not accept (invalid JSON, nesting
// deeper than maxModelDepth) sends the whole body back to json.Marshal,
// which then fails or succeeds as before; TestSaveBodyEqualsMarshal and
// FuzzAppendModel hold the two paths to the same bytes.

import (
	"encoding/json"
	"strconv"
)

// maxModelDepth bounds appendModel's recursion; deeper models take the
// encoding/json path (whose own limit is 10000).
const maxModelDepth = 512

// saveBody encodes a Save/BatchSave body: {"data":{...},"formid":...}, the
// keys in the order json.Marshal gives a map and the data in saveData's.
// model is one json.RawMessage (Save), a []json.RawMessage (BatchSave with
// Models) or anything else, which json.Marshal encodes.
func saveBody(req SaveRequest, model any) ([]byte, error) {
	if b, ok := appendSaveBody(nil, req, model); ok {
		return b, nil
	}
	return marshalSaveBody(req, model)
}

// marshalSaveBody is the encoding/json rendering of a save body.
func marshalSaveBody(req SaveRequest, model any) ([]byte, error) {
	return json.Marshal(map[string]any{"formid": req.FormID, "data": saveData{
		Model: model, NeedUpDateFields: req.NeedUpDateFields, NeedReturnFields: req.NeedReturnFields,
		IsDeleteEntry: req.IsDeleteEntry, IsVerifyBaseDataField: req.IsVerifyBaseDataField,
		IsAutoSubmitAndAudit: req.IsAutoSubmitAndAudit,
	}})
}

// appendSaveBody appends the body for pre-encoded models; false when model
// is of another type or a model is not accepted by appendModel.
func appendSaveBody(dst []byte, req SaveRequest, model any) ([]byte, bool) {
	var models []json.RawMessage
	switch m := model.(type) {
	case json.RawMessage:
		models = []json.RawMessage{m}
	case []json.RawMessage:
		if m == nil {
			return nil, false
		}
		models = m
	default:
		return nil, false
	}
	size := 256 + len(req.FormID)
	for _, m := range models {
		size += len(m) + 1
	}
	for _, f := range req.NeedUpDateFields {
		size += len(f) + 3
	}
	for _, f := range req.NeedReturnFields {
		size += len(f) + 3
	}
	if dst == nil {
		dst = make([]byte, 0, size)
	}
	dst = append(dst, `{"data":{"Model":`...)
	var ok bool
	if _, single := model.(json.RawMessage); single {
		if dst, ok = appendModel(dst, models[0]); !ok {
			return nil, false
		}
	} else {
		dst = append(dst, '[')
		for i, m := range models {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, ok = appendModel(dst, m); !ok {
				return nil, false
			}
		}
		dst = append(dst, ']')
	}
	if len(req.NeedUpDateFields) > 0 {
		dst = append(dst, `,"NeedUpDateFields":`...)
		dst = appendStrings(dst, req.NeedUpDateFields)
	}
	if len(req.NeedReturnFields) > 0 {
		dst = append(dst, `,"NeedReturnFields":`...)
		dst = appendStrings(dst, req.NeedReturnFields)
	}
	if req.IsDeleteEntry != nil {
		dst = append(dst, `,"IsDeleteEntry":`...)
		dst = strconv.AppendBool(dst, *req.IsDeleteEntry)
	}
	dst = append(dst, `,"IsVerifyBaseDataField":`...)
	dst = strconv.AppendBool(dst, req.IsVerifyBaseDataField)
	dst = append(dst, `,"IsAutoSubmitAndAudit":`...)
	dst = strconv.AppendBool(dst, req.IsAutoSubmitAndAudit)
	dst = append(dst, `},"formid":`...)
	dst = appendString(dst, req.FormID)
	return append(dst, '}'), true
}

// appendStrings appends ss as a JSON array of strings.
func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// appendString appends s as json.Marshal encodes a string (HTML-escaped,
// invalid UTF-8 replaced). A string needs no escape in the common case;
// otherwise encoding/json renders it, as these are a few short strings a
// call.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// modelWriter appends a model compacted and HTML-escaped while checking it
// against the JSON grammar as encoding/json's scanner reads it.
type modelWriter struct {
	src   []byte
	dst   []byte
	start int // src[start:i] is still to be copied to dst
}

// appendModel appends src to dst as encoding/json's appendCompact with
// escaping does (whitespace between tokens dropped; <, >, &, U+2028 and
// U+2029 written as \u escapes), provided src is one valid JSON value.
// Otherwise it returns false and dst unchanged in content.
func appendModel(dst, src []byte) ([]byte, bool) {
	w := modelWriter{src: src, dst: dst}
	i := w.space(0)
	i, ok := w.value(i, 0)
	if !ok {
		return dst, false
	}
	if i = w.space(i); i != len(src) {
		return dst, false
	}
	w.flush(i, i)
	return w.dst, true
}

// flush copies src[start:i] and resumes copying at next.
func (w *modelWriter) flush(i, next int) {
	if w.start < i {
		w.dst = append(w.dst, w.src[w.start:i]...)
	}
	w.start = next
}

// space skips whitespace at i, leaving it out of the output.
func (w *modelWriter) space(i int) int {
	j := i
	for j < len(w.src) {
		switch w.src[j] {
		case ' ', '\t', '\n', '\r':
			j++
			continue
		}
		break
	}
	if j > i {
		w.flush(i, j)
	}
	return j
}

// value checks the value at i (no leading space) and returns the index after it.
func (w *modelWriter) value(i, depth int) (int, bool) {
	src := w.src
	if i >= len(src) {
		return i, false
	}
	switch c := src[i]; {
	case c == '{':
		if depth >= maxModelDepth {
			return i, false
		}
		i = w.space(i + 1)
		if i < len(src) && src[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(src) || src[i] != '"' {
				return i, false
			}
			var ok bool
			if i, ok = w.str(i); !ok {
				return i, false
			}
			if i = w.space(i); i >= len(src) || src[i] != ':' {
				return i, false
			}
			i = w.space(i + 1)
			if i, ok = w.value(i, depth+1); !ok {
				return i, false
			}
			if i = w.space(i); i >= len(src) {
				return i, false
			}
			switch src[i] {
			case ',':
				i = w.space(i + 1)
			case '}':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '[':
		if depth >= maxModelDepth {
			return i, false
		}
		i = w.space(i + 1)
		if i < len(src) && src[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = w.value(i, depth+1); !ok {
				return i, false
			}
			if i = w.space(i); i >= len(src) {
				return i, false
			}
			switch src[i] {
			case ',':
				i = w.space(i + 1)
			case ']':
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		return w.str(i)
	case c == '-' || ('0' <= c && c <= '9'):
		return scanNumber(src, i)
	case c == 't':
		return scanLiteral(src, i, "true")
	case c == 'f':
		return scanLiteral(src, i, "false")
	case c == 'n':
		return scanLiteral(src, i, "null")
	}
	return i, false
}

// str checks the string at i and escapes what appendCompact escapes in it.
func (w *modelWriter) str(i int) (int, bool) {
	src := w.src
	for i++; i < len(src); i++ {
		for i < len(src) && strPlain[src[i]] {
			i++
		}
		if i >= len(src) {
			break
		}
		switch c := src[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(src) {
				return i, false
			}
			switch src[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+5 >= len(src) || !isHex(src[i+2]) || !isHex(src[i+3]) || !isHex(src[i+4]) || !isHex(src[i+5]) {
					return i, false
				}
				i += 5
			default:
				return i, false
			}
		case c == '<' || c == '>' || c == '&':
			w.flush(i, i+1)
			w.dst = append(w.dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8:
			w.flush(i, i+3)
			w.dst = append(w.dst, '\\', 'u', '2', '0', '2', hexDigits[src[i+2]&0xF])
			i += 2
		}
	}
	return i, false
}

const hexDigits = "0123456789abcdef"

// strPlain marks the bytes that a string holds and appendCompact copies as they are.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' && c != 0xE2
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// scanNumber checks the JSON number at i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(src []byte, i int) (int, bool) {
	if src[i] == '-' {
		i++
	}
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && '1' <= src[i] && src[i] <= '9':
		i = scanDigits(src, i)
	default:
		return i, false
	}
	if i < len(src) && src[i] == '.' {
		j := scanDigits(src, i+1)
		if j == i+1 {
			return i, false
		}
		i = j
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		j := scanDigits(src, i)
		if j == i {
			return i, false
		}
		i = j
	}
	return i, true
}

func scanDigits(src []byte, i int) int {
	for i < len(src) && '0' <= src[i] && src[i] <= '9' {
		i++
	}
	return i
}

func scanLiteral(src []byte, i int, lit string) (int, bool) {
	if len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}
