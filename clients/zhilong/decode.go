package zhilong

// Decoding of RuoYi answers in one pass over the body.
//
// decodeEnvelope first tries fastDecodeEnvelope (fastdecode.go), a
// hand-written scan that handles the usual bodies and defers every other
// one to the jsontext decoder described here, which therefore still
// decides every error and every rare case.
//
// The tokenizer is jsontext from github.com/go-json-experiment/json, the
// module that mirrors encoding/json/v2 (with the goexperiment.jsonv2 build
// tag, default from Go 1.27, it aliases the standard library's
// encoding/json/jsontext, so moving to it later is an import change). It was
// chosen over github.com/valyala/fastjson because Decoder.ReadValue hands
// back every value as its exact input bytes without building a tree: the
// tolerant decoding below keeps objects and arrays verbatim (agentIdArray,
// params, an object sent in a string field), which a parser that
// re-serialises its tree cannot promise, and it validates the whole body as
// strictly as encoding/json did, so a malformed body is still classified as
// one. It needs no reflection and no per-row map: names are matched against
// agentFieldTable, expecting the fields in the order of the previous row.
//
// Allocation: Raw, agentIdArray and params are capacity-capped slices of the
// response body (read-only: the body is also what the audit hook saw), and
// one string per row holds the row's text, of which the row's string fields
// are substrings; only a string with an escape gets a string of its own. A
// field kept after its Agent is dropped therefore keeps its row's text
// alive (as the copy of the row in Raw did before), and a kept Agent keeps
// the page's body.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// envelope is a decoded RuoYi AjaxResult / TableDataInfo body.
type envelope struct {
	code   string // raw JSON text of "code", "" when absent
	msg    string
	token  string
	total  string // raw JSON text of "total", "" when absent
	rows   []Agent
	badRow int   // index of the first row that is not an object, -1 when none
	rowErr error // why row badRow is bad
}

// maxRowsHint caps the capacity reserved for rows from a caller's hint.
const maxRowsHint = 1 << 14

// decodeEnvelope parses body (already trimmed) the way encoding/json
// decoded it into the former envelope struct: keys matched without regard
// to case, the last of duplicate keys wins, code and total kept as raw JSON,
// msg and token as strings (null leaves them empty), rows as an array of
// agents. With withRows false the rows are only checked to be an array.
// sizeHint is the expected number of rows. A row that is not an object does
// not fail the decoding: it is reported in badRow, to be raised only if the
// body code says success.
func decodeEnvelope(body []byte, withRows bool, sizeHint int) (*envelope, error) {
	var scratch rowScratch
	if env, ok := fastDecodeEnvelope(body, withRows, sizeHint, &scratch); ok {
		return env, nil
	}
	return decodeEnvelopeTokens(body, withRows, sizeHint)
}

// decodeEnvelopeTokens is decodeEnvelope with the jsontext decoder, for
// every body that fastDecodeEnvelope leaves to it.
func decodeEnvelopeTokens(body []byte, withRows bool, sizeHint int) (*envelope, error) {
	env := &envelope{badRow: -1}
	dec := jsontext.NewDecoder(bytes.NewBuffer(body),
		jsontext.AllowDuplicateNames(true), // encoding/json let the last one win
		jsontext.AllowInvalidUTF8(true))    // encoding/json replaced it by U+FFFD
	if k := dec.PeekKind(); k != '{' {
		if _, err := dec.ReadValue(); err != nil {
			return nil, err
		}
		if err := checkEOF(dec); err != nil {
			return nil, err
		}
		if k == 'n' {
			return env, nil // null decodes to an empty envelope: no code
		}
		return nil, fmt.Errorf("body is a JSON %s, not an object", kindName(k))
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	var scratch rowScratch
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		key := unquote(name)
		switch {
		case strings.EqualFold(key, "code"):
			v, err := dec.ReadValue()
			if err != nil {
				return nil, err
			}
			env.code = string(v)
		case strings.EqualFold(key, "total"):
			v, err := dec.ReadValue()
			if err != nil {
				return nil, err
			}
			env.total = string(v)
		case strings.EqualFold(key, "msg"):
			if err := readString(dec, &env.msg); err != nil {
				return nil, fmt.Errorf("msg: %w", err)
			}
		case strings.EqualFold(key, "token"):
			if err := readString(dec, &env.token); err != nil {
				return nil, fmt.Errorf("token: %w", err)
			}
		case strings.EqualFold(key, "rows"):
			if err := env.readRows(dec, body, withRows, sizeHint, &scratch); err != nil {
				return nil, fmt.Errorf("rows: %w", err)
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	if err := checkEOF(dec); err != nil {
		return nil, err
	}
	return env, nil
}

// checkEOF fails when anything but whitespace follows the top-level value.
func checkEOF(dec *jsontext.Decoder) error {
	switch _, err := dec.ReadToken(); err {
	case io.EOF:
		return nil
	case nil:
		return fmt.Errorf("data after the top-level value at offset %d", dec.InputOffset())
	default:
		return fmt.Errorf("after the top-level value: %w", err)
	}
}

// readString decodes a string like encoding/json into a Go string: null
// leaves *dst as it is, any other kind of value is an error.
func readString(dec *jsontext.Decoder, dst *string) error {
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case '"':
		*dst = unquote(v)
	case 'n':
	default:
		return fmt.Errorf("a JSON %s where a string belongs", kindName(v.Kind()))
	}
	return nil
}

// readRows decodes the rows array (or null, which means none).
func (env *envelope) readRows(dec *jsontext.Decoder, body []byte, withRows bool, sizeHint int, sc *rowScratch) error {
	env.rows, env.badRow, env.rowErr = nil, -1, nil // a later "rows" replaces an earlier one
	switch k := dec.PeekKind(); {
	case k == 'n' || (k == '[' && !withRows):
		_, err := dec.ReadValue()
		return err
	case k != '[':
		if _, err := dec.ReadValue(); err != nil {
			return err
		}
		return fmt.Errorf("a JSON %s, not an array", kindName(k))
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	rows := make([]Agent, 0, min(max(sizeHint, 0), maxRowsHint))
	for dec.PeekKind() != ']' {
		i := len(rows)
		rows = append(rows, Agent{})
		if k := dec.PeekKind(); k != '{' {
			if _, err := dec.ReadValue(); err != nil {
				return err
			}
			if env.badRow < 0 {
				env.badRow, env.rowErr = i, fmt.Errorf("row is a JSON %s, not an object", kindName(k))
			}
			continue
		}
		if err := sc.decodeRow(dec, body, &rows[i]); err != nil {
			return fmt.Errorf("row %d: %w", i, err)
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	env.rows = rows
	return nil
}

// rowScratch is reused from row to row.
type rowScratch struct {
	// spans[i] locates the verbatim text of string field i in the body
	// (lo < hi), to be cut from the row's string once the row is complete.
	spans [len(agentFieldTable)]struct{ lo, hi int }
	next  int // index of the field expected next: rows repeat one order
}

// decodeRow decodes the object row at the decoder's position into a, with
// the tolerant rules of [Agent]: a string field takes a string's content,
// the JSON text of any other value, "" for null; a raw field takes the
// value's JSON text, nil for null; unknown names are skipped; the last of
// duplicate names wins. body is what the decoder reads.
func (sc *rowScratch) decodeRow(dec *jsontext.Decoder, body []byte, a *Agent) error {
	if _, err := dec.ReadToken(); err != nil { // '{'
		return err
	}
	start := int(dec.InputOffset()) - 1
	clear(sc.spans[:])
	spans := 0
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return err
		}
		i := sc.lookup(name)
		if i < 0 {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		hi := int(dec.InputOffset())
		lo := hi - len(v)
		f := &agentFieldTable[i]
		if f.raw != nil {
			if v.Kind() == 'n' {
				*f.raw(a) = nil
			} else {
				*f.raw(a) = json.RawMessage(body[lo:hi:hi])
			}
			continue
		}
		sp := &sc.spans[i]
		sp.lo, sp.hi = 0, 0
		switch v.Kind() {
		case 'n':
			*f.str(a) = ""
		case '"':
			if bytes.IndexByte(v, '\\') >= 0 {
				*f.str(a) = unquote(v)
			} else {
				sp.lo, sp.hi = lo+1, hi-1 // the content, even if it is not valid UTF-8
				spans++
			}
		default: // number, true, false, object, array: the JSON text
			sp.lo, sp.hi = lo, hi
			spans++
		}
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return err
	}
	end := int(dec.InputOffset())
	a.Raw = json.RawMessage(body[start:end:end])
	if spans == 0 {
		return nil
	}
	text := string(body[start:end])
	for i := range sc.spans {
		if sp := sc.spans[i]; sp.hi > sp.lo {
			*agentFieldTable[i].str(a) = text[sp.lo-start : sp.hi-start]
		}
	}
	return nil
}

// lookup returns the agentFieldTable index of the quoted object name, or -1.
func (sc *rowScratch) lookup(name []byte) int {
	key := name[1 : len(name)-1]
	if bytes.IndexByte(key, '\\') >= 0 {
		key = []byte(unquote(name))
	}
	if n := sc.next; n < len(agentFieldTable) && string(key) == agentFieldTable[n].name {
		sc.next = n + 1
		return n
	}
	i, ok := agentFieldIndex[string(key)]
	if !ok {
		return -1
	}
	sc.next = i + 1
	return i
}

// unquote returns the content of a JSON string that the decoder has
// validated, as encoding/json decodes it: escapes resolved, invalid UTF-8
// and unpaired surrogates replaced by U+FFFD.
func unquote(v []byte) string {
	if s := v[1 : len(v)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return string(s)
	}
	// The only errors left for a validated string report the replacements.
	b, _ := jsontext.AppendUnquote(nil, v)
	return string(b)
}

// kindName names a JSON kind for error messages.
func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}
