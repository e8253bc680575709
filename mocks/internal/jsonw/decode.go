package jsonw

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

var errSyntax = errors.New("jsonw: invalid JSON")

// Decode parses data as json.Unmarshal into an `any` would: the same values (map[string]any,
// []any, string, float64, bool, nil) and an error exactly when json.Unmarshal reports one (the
// error's text differs). It validates first and then builds the values without reflection, with
// maps sized to their members; strings with escapes or non-ASCII bytes are unquoted by
// encoding/json itself.
func Decode(data []byte) (any, error) {
	if !json.Valid(data) {
		return nil, errSyntax
	}
	d := decoder{data: data}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	return v, nil
}

// decoder reads JSON already known to be valid.
type decoder struct {
	data []byte
	i    int
	// members is a stack of an object's key/value pairs while it is read (shared by nested
	// objects), so its map can be made with the right size.
	members []member
}

type member struct {
	k string
	v any
}

func (d *decoder) skipSpace() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value() (any, error) {
	d.skipSpace()
	switch c := d.data[d.i]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.str()
	case 't':
		d.i += 4
		return true, nil
	case 'f':
		d.i += 5
		return false, nil
	case 'n':
		d.i += 4
		return nil, nil
	default:
		start := d.i
		for d.i < len(d.data) {
			c := d.data[d.i]
			if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				d.i++
				continue
			}
			break
		}
		f, err := strconv.ParseFloat(string(d.data[start:d.i]), 64)
		if err != nil { // out of range: encoding/json fails the same way
			return nil, err
		}
		return f, nil
	}
}

func (d *decoder) object() (any, error) {
	d.i++ // {
	base := len(d.members)
	d.skipSpace()
	if d.data[d.i] == '}' {
		d.i++
		return map[string]any{}, nil
	}
	for {
		d.skipSpace()
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		d.i++ // :
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{k, v})
		d.skipSpace()
		c := d.data[d.i]
		d.i++
		if c == '}' {
			break
		}
	}
	m := make(map[string]any, len(d.members)-base)
	for _, kv := range d.members[base:] {
		m[kv.k] = kv.v // a repeated key: the last one wins, as in encoding/json
	}
	clear(d.members[base:])
	d.members = d.members[:base]
	return m, nil
}

func (d *decoder) array() (any, error) {
	d.i++ // [
	out := make([]any, 0)
	d.skipSpace()
	if d.data[d.i] == ']' {
		d.i++
		return out, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		d.skipSpace()
		c := d.data[d.i]
		d.i++
		if c == ']' {
			return out, nil
		}
	}
}

// str reads a string token: valid UTF-8 without escapes as it is (what encoding/json's unquote
// gives for it), anything else through encoding/json (escapes, surrogates, invalid UTF-8 replaced).
func (d *decoder) str() (string, error) {
	start := d.i
	d.i++ // "
	escaped, nonASCII := false, false
	for {
		c := d.data[d.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			escaped = true
			d.i += 2
			continue
		}
		if c >= utf8.RuneSelf {
			nonASCII = true
		}
		d.i++
	}
	d.i++ // closing "
	raw := d.data[start+1 : d.i-1]
	if !escaped && (!nonASCII || utf8.Valid(raw)) {
		return string(raw), nil
	}
	var s string
	if err := json.Unmarshal(d.data[start:d.i], &s); err != nil {
		return "", err
	}
	return s, nil
}
