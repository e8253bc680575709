package vendor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Redacted is the placeholder that replaces secret values in audit records.
const Redacted = "***"

// RedactJSON returns body with the values of the given keys (matched
// case-insensitively, at any depth) replaced by [Redacted]. A body that is
// not valid JSON cannot be redacted safely and is replaced entirely by a
// short placeholder naming its length.
func RedactJSON(body []byte, keys ...string) []byte {
	if len(TrimBody(body)) == 0 {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return []byte(fmt.Sprintf("<unparseable body of %d bytes redacted>", len(body)))
	}
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[strings.ToLower(k)] = true
	}
	v = redactValue(v, set)
	out, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprintf("<body of %d bytes redacted>", len(body)))
	}
	return out
}

func redactValue(v any, keys map[string]bool) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if keys[strings.ToLower(k)] {
				if x != nil {
					t[k] = Redacted
				}
				continue
			}
			t[k] = redactValue(x, keys)
		}
	case []any:
		for i, x := range t {
			t[i] = redactValue(x, keys)
		}
	}
	return v
}

// RedactFunc returns a response rewriter for [Request.RedactResponse] that
// masks the given JSON keys.
func RedactFunc(keys ...string) func([]byte) []byte {
	return func(b []byte) []byte { return RedactJSON(b, keys...) }
}
