package mapping

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Issue is a problem with one field of a rendered payload; Field is a path such as "distributorName"
// or "FUseOrgId.FNumber".
type Issue struct {
	Field, Message string
}

// Payload is a rendered target body: fields in spec order. Like a map, it is safe for concurrent
// reads (Get, Map, MarshalJSON) only once Hash has been called; Set needs exclusive use.
type Payload struct {
	// fields and vals are the fields and their values, in spec order (then in the order Set added
	// them): a payload has a few dozen fields, which a scan finds as fast as a map's hash and which
	// Render fills without building a map per record.
	fields   []string
	vals     []any
	warnings []Issue
	// order is the indexes of fields in the sorted order of their names, the order Canonical writes
	// them in: shared with the spec for a rendered payload, copied when Set adds a field or Delete
	// removes one. Always as long as fields.
	order []int
	// hash and canonical cache Hash and Canonical.
	hash      string
	canonical []byte
}

// Render maps one source record to the target body. A source field missing from the record renders
// as empty text with a warning; an empty required field is a warning too. A function that cannot
// handle its input (a date that is not a date) is an error naming the target field.
func (s *Spec) Render(rec Record, vars Vars) (*Payload, error) {
	p, err := render(s.fields, s.sorted, "target field", rec, vars)
	if err != nil {
		return nil, err
	}
	for _, r := range s.schema.required {
		if i := p.index(r); i >= 0 && isEmpty(p.vals[i]) {
			p.warnings = append(p.warnings, Issue{Field: path(r, p.vals[i]), Message: "required field is empty"})
		}
	}
	if k := s.f.Target.Key; !slices.Contains(s.schema.required, k) && isEmpty(p.Get(k)) {
		p.warnings = append(p.warnings, Issue{Field: path(k, p.Get(k)), Message: "target key is empty"})
	}
	return p, nil
}

// RenderRequest renders the source call's parameters declared under source.request (the seed's
// request table, e.g. updateTimeStart = {{LAST_SYNC_TIME datetime}}); empty when the spec has none.
func (s *Spec) RenderRequest(vars Vars) (*Payload, error) {
	return render(s.request, s.requestSorted, "request field", nil, vars)
}

func render(fields []compiledField, order []int, what string, rec Record, vars Vars) (*Payload, error) {
	p := &Payload{fields: make([]string, 0, len(fields)), vals: make([]any, 0, len(fields)), order: order}
	var errs []error
	for _, cf := range fields {
		v, absent, err := cf.render(rec, vars)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", what, cf.name, err))
			continue
		}
		for _, k := range absent {
			p.warnings = append(p.warnings, Issue{Field: cf.name, Message: fmt.Sprintf("source field %q is absent from the record", k)})
		}
		p.fields = append(p.fields, cf.name)
		p.vals = append(p.vals, v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// refKey is the key of a base-data reference's one field ({"FNumber": …}, Kingdee's way of naming
// base data by its number), which the hot paths look up rather than iterate the map for.
const refKey = "FNumber"

// path is a field's path: the field, or field.FNumber for a base-data reference.
func path(field string, v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if _, ok := m[refKey]; ok {
			return field + "." + refKey
		}
		for k := range m {
			return field + "." + k
		}
	}
	return field
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case map[string]any:
		if inner, ok := x[refKey]; ok && len(x) == 1 { // a base-data reference, without iterating
			return isEmpty(inner)
		}
		for _, inner := range x {
			if !isEmpty(inner) {
				return false
			}
		}
		return true
	}
	return false
}

func vars2value(key string, vars Vars) any {
	switch key {
	case "LAST_SYNC_TIME":
		return vars.LastSyncTime
	case "CURRENT_TIME":
		return vars.CurrentTime
	case "PAGINATION_PAGE_SIZE":
		return json.Number(strconv.Itoa(vars.PageSize))
	case "PAGINATION_START_ROW":
		return json.Number(strconv.Itoa(vars.StartRow))
	default: // PAGINATION_START_PAGE
		return json.Number(strconv.Itoa(vars.StartPage))
	}
}

// render renders one field; absent lists the source fields the record lacks.
func (cf *compiledField) render(rec Record, vars Vars) (v any, absent []string, err error) {
	if cf.isConst {
		return cf.constant, nil, nil
	}
	var out string
	if len(cf.parts) == 1 { // most fields are one literal or one action: their text as is
		if out, err = cf.parts[0].render(rec, vars, &absent); err != nil {
			return nil, nil, err
		}
	} else {
		var b strings.Builder
		for _, p := range cf.parts {
			t, err := p.render(rec, vars, &absent)
			if err != nil {
				return nil, nil, err
			}
			b.WriteString(t)
		}
		out = b.String()
	}
	v = out
	switch cf.typ {
	case "bool":
		bv, err := strconv.ParseBool(strings.TrimSpace(out))
		if err != nil {
			return nil, nil, fmt.Errorf("%q is not true or false", out)
		}
		v = bv
	case "number":
		t := strings.TrimSpace(out)
		if t == "" {
			t = "0"
		}
		n := json.Number(t)
		if _, err := n.Float64(); err != nil {
			return nil, nil, fmt.Errorf("%q is not a number", out)
		}
		v = n
	}
	if cf.ref != "" {
		v = map[string]any{cf.ref: v}
	}
	return v, absent, nil
}

// render renders one part as text, adding the source field it reads to absent when the record lacks it.
func (p *compiledPart) render(rec Record, vars Vars, absent *[]string) (string, error) {
	if p.expr == nil {
		return p.text, nil
	}
	var val any
	if p.expr.variable {
		val = vars2value(p.expr.key, vars)
	} else {
		var ok bool
		if val, ok = rec[p.expr.key]; !ok && !slices.Contains(*absent, p.expr.key) {
			*absent = append(*absent, p.expr.key)
		}
	}
	for _, st := range p.expr.steps {
		var err error
		if val, err = st(val); err != nil {
			return "", err
		}
	}
	return text(val), nil
}

// Fields lists the payload's fields in spec order.
func (p *Payload) Fields() []string { return slices.Clone(p.fields) }

// Len is the number of fields.
func (p *Payload) Len() int { return len(p.fields) }

// Get returns a field's value (nil when absent): a string, a bool or json.Number where the spec
// says so, or map[string]any{"FNumber": …} for a base-data reference, which the caller must not
// change (payloads share them; Map returns copies).
func (p *Payload) Get(field string) any {
	if i := p.index(field); i >= 0 {
		return p.vals[i]
	}
	return nil
}

// index is the field's index in fields, or -1.
func (p *Payload) index(field string) int { return slices.Index(p.fields, field) }

// Set sets a field, appending it when new (the engine uses it for actionType and FCUSTID).
func (p *Payload) Set(field string, v any) {
	p.hash, p.canonical = "", nil
	if i := p.index(field); i >= 0 {
		p.vals[i] = v
		return
	}
	// The new field's index goes into order at its name's sorted place, in a copy: order may be the
	// spec's.
	at, _ := slices.BinarySearchFunc(p.order, field, func(i int, f string) int { return strings.Compare(p.fields[i], f) })
	p.order = slices.Insert(slices.Clip(p.order), at, len(p.fields))
	p.fields = append(p.fields, field)
	p.vals = append(p.vals, v)
}

// Delete removes a field.
func (p *Payload) Delete(field string) {
	i := p.index(field)
	if i < 0 {
		return
	}
	p.hash, p.canonical = "", nil
	p.fields = slices.Delete(slices.Clip(p.fields), i, i+1)
	p.vals = slices.Delete(slices.Clip(p.vals), i, i+1)
	order := make([]int, 0, len(p.fields))
	for _, k := range p.order {
		switch {
		case k < i:
			order = append(order, k)
		case k > i:
			order = append(order, k-1)
		}
	}
	p.order = order
}

// Clone returns a copy that Set and Delete can change without touching p (values are shared; base-data
// maps are never changed in place).
func (p *Payload) Clone() *Payload {
	return &Payload{fields: slices.Clone(p.fields), vals: slices.Clone(p.vals), warnings: p.warnings, order: p.order, hash: p.hash, canonical: p.canonical}
}

// Map returns a deep copy of the payload as a map.
func (p *Payload) Map() map[string]any {
	out := make(map[string]any, len(p.fields))
	for i, f := range p.fields {
		v := p.vals[i]
		if inner, ok := v.(map[string]any); ok {
			v = copyMap(inner)
		}
		out[f] = v
	}
	return out
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if inner, ok := v.(map[string]any); ok {
			v = copyMap(inner)
		}
		out[k] = v
	}
	return out
}

// Warnings are problems that do not stop delivery (empty required fields, source fields absent
// from the record), with field paths.
func (p *Payload) Warnings() []Issue { return slices.Clone(p.warnings) }

// MarshalJSON renders the body exactly as sent: fields in spec order, no HTML escaping.
func (p *Payload) MarshalJSON() ([]byte, error) {
	return p.AppendJSON(make([]byte, 0, 64*len(p.fields)))
}

// AppendJSON appends the body as MarshalJSON renders it to dst.
func (p *Payload) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	for i, f := range p.fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, f)
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSON(dst, p.vals[i]); err != nil {
			return nil, fmt.Errorf("field %q: %w", f, err)
		}
	}
	return append(dst, '}'), nil
}

// appendJSON appends v as encoding/json renders it with HTML escaping off (maps with sorted keys),
// byte for byte. The payload's own value types (text, bool, base-data maps) take a direct path that
// skips reflection, which a page of records otherwise pays per field; anything else goes through
// encoding/json.
func appendJSON(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case map[string]any:
		if inner, ok := x[refKey]; ok && len(x) == 1 { // a base-data reference, found without iterating the map
			dst, err := appendJSON(append(dst, `{"`+refKey+`":`...), inner)
			if err != nil {
				return nil, err
			}
			return append(dst, '}'), nil
		}
		if len(x) == 1 {
			for k, inner := range x {
				dst = append(appendString(append(dst, '{'), k), ':')
				var err error
				if dst, err = appendJSON(dst, inner); err != nil {
					return nil, err
				}
			}
			return append(dst, '}'), nil
		}
		var small [32]string // payloads have a few dozen fields: sort their names without allocating
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does with HTML escaping off:
// quote, backslash and control characters escaped (\b \f \n \r \t or \u00XX), invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped (JavaScript line terminators), everything else as is.
//
// mocks/internal/jsonw.String is its twin with HTML escaping on (echo's c.JSON escapes <, > and &).
// They are kept apart on purpose: mocks import nothing from server or clients and server nothing
// from mocks, and no package both may import has room for it. FuzzAppendJSONMatchesEncodingJSON
// (json_test.go) pins this one to encoding/json, FuzzString pins the other; change both together.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
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
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		if b := s[i]; b >= 0xE1 && b <= 0xEC && i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 &&
			(b != 0xE2 || s[i+1] != 0x80 || s[i+2]&0xFE != 0xA8) {
			// A valid three-byte sequence (CJK text mostly) other than U+2028 and U+2029: as is.
			i += 3
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// canonical is v's canonical JSON: object keys sorted, no HTML escaping, numbers as written.
func canonical(v any) []byte {
	b, err := appendJSON(nil, v)
	if err != nil {
		return []byte(fmt.Sprintf("%#v", v))
	}
	return b
}

// Hash is the hex SHA-256 of the payload's canonical JSON (keys sorted, so reordering a spec's
// fields does not change it); equal payloads have equal hashes. It is computed once per payload
// (Set resets it).
func (p *Payload) Hash() string {
	if p.hash == "" {
		sum := sha256.Sum256(p.Canonical())
		p.hash = hex.EncodeToString(sum[:])
	}
	return p.hash
}

// Canonical is the payload as canonical JSON (object keys sorted, no HTML escaping), the text Hash
// hashes; computed once per payload like Hash. The caller must not modify it.
func (p *Payload) Canonical() []byte {
	if p.canonical == nil {
		p.canonical = p.appendCanonical(make([]byte, 0, 64*len(p.fields)))
	}
	return p.canonical
}

// appendCanonical appends the payload's canonical JSON to dst: its fields in the sorted order of
// their names (order), as canonical writes a map.
func (p *Payload) appendCanonical(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, '{')
	for n, i := range p.order {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(appendString(dst, p.fields[i]), ':')
		var err error
		if dst, err = appendJSON(dst, p.vals[i]); err != nil {
			return append(dst[:start], canonical(p.Map())...)
		}
	}
	return append(dst, '}')
}

// FieldChange is one field that differs between two payloads; Old or New is nil where the field is
// absent on that side.
type FieldChange struct {
	Field    string
	Old, New any
}

// Diff lists the fields that differ between an old payload (e.g. the one last delivered, decoded
// from JSON) and a new one, by path ("FUseOrgId.FNumber" inside base-data references), sorted by
// path. Values compare by their canonical JSON, so 100, float64(100) and json.Number("100") are equal.
func Diff(old, new map[string]any) []FieldChange {
	var out []FieldChange
	diffInto(&out, "", old, new)
	slices.SortFunc(out, func(a, b FieldChange) int { return strings.Compare(a.Field, b.Field) })
	return out
}

func diffInto(out *[]FieldChange, prefix string, old, new map[string]any) {
	keys := slices.Sorted(maps.Keys(old))
	for k := range new {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		o, inOld := old[k]
		n, inNew := new[k]
		om, oIsMap := o.(map[string]any)
		nm, nIsMap := n.(map[string]any)
		switch {
		case oIsMap && nIsMap:
			diffInto(out, prefix+k+".", om, nm)
		case inOld && inNew && bytes.Equal(canonical(o), canonical(n)):
		default:
			*out = append(*out, FieldChange{Field: prefix + k, Old: o, New: n})
		}
	}
}
