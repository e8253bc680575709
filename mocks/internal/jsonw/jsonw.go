// Package jsonw appends JSON values to byte slices by hand, producing exactly the bytes
// encoding/json's Marshal (and echo's c.JSON, an encoding/json Encoder) would: strings escaped the
// same way (HTML characters, U+2028/U+2029 and invalid UTF-8 included). The mocks use it on their hot
// paths, where reflection over maps and interfaces cost more than the answers themselves.
package jsonw

import (
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// htmlSafe[b] reports whether ASCII byte b needs no escaping (encoding/json's htmlSafeSet).
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// String appends s as a JSON string, escaped as encoding/json escapes it.
//
// server/mapping's appendString (payload.go) is its twin with HTML escaping off, for the gateway's
// payloads. They are kept apart on purpose: mocks import nothing from server or clients and server
// nothing from mocks, and no package both may import has room for it. FuzzString (jsonw_test.go)
// pins this one to encoding/json, FuzzAppendJSONMatchesEncodingJSON the other; change both together.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Value appends v: strings, integers, booleans and nil by hand, anything else through
// encoding/json.
func Value(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return String(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case bool:
		return strconv.AppendBool(dst, x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

// bufs recycles answer buffers: a page of rows is megabytes, and allocating one per call kept the
// garbage collector busy.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// GetBuffer returns an empty buffer; hand it back with PutBuffer once its bytes are written out.
func GetBuffer() *[]byte {
	b := bufs.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

// PutBuffer recycles b (very large buffers are dropped).
func PutBuffer(b *[]byte) {
	if cap(*b) <= 16<<20 {
		bufs.Put(b)
	}
}
