package mapping

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Payload is a rendered target body: fields in spec order.
type Payload struct {
	fields   []string
	values   map[string]any
	warnings []Issue
}

// Render maps one source record to the target body. Missing source fields render as empty text; a
// function that cannot handle its input (a date that is not a date) is an error naming the field.
func (s *Spec) Render(rec Record, vars Vars) (*Payload, error) {
	p := &Payload{values: make(map[string]any, len(s.fields))}
	var errs []error
	for _, cf := range s.fields {
		v, err := s.renderField(cf, rec, vars)
		if err != nil {
			errs = append(errs, fmt.Errorf("target field %q: %w", cf.def.Name, err))
			continue
		}
		p.fields = append(p.fields, cf.def.Name)
		p.values[cf.def.Name] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, r := range s.required {
		if v, ok := p.values[r]; ok && isEmpty(v) {
			p.warnings = append(p.warnings, Issue{Field: r, Message: "required field is empty"})
		}
	}
	return p, nil
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x) == ""
	case map[string]any:
		for _, inner := range x {
			return isEmpty(inner)
		}
		return true
	}
	return v == nil
}

func (s *Spec) lookup(id string, rec Record, vars Vars) any {
	switch id {
	case "LAST_SYNC_TIME":
		return vars.LastSyncTime
	case "CURRENT_TIME":
		return vars.CurrentTime
	case "PAGINATION_PAGE_SIZE":
		return float64(vars.PageSize)
	case "PAGINATION_START_ROW":
		return float64(vars.StartRow)
	case "PAGINATION_START_PAGE":
		return float64(vars.StartPage)
	}
	if k, ok := s.f.Source.Aliases[id]; ok {
		id = k
	}
	return rec[id]
}

func (s *Spec) renderField(cf compiledField, rec Record, vars Vars) (any, error) {
	var b strings.Builder
	for _, p := range cf.tpl.parts {
		if p.expr == nil {
			b.WriteString(p.lit)
			continue
		}
		v := s.lookup(p.expr.ident, rec, vars)
		for _, c := range p.expr.calls {
			var err error
			if v, err = functions[c.name].fn(v, c.args, s.f.Target.Maps); err != nil {
				return nil, err
			}
		}
		b.WriteString(text(v))
	}
	out := b.String()
	var v any = out
	switch cf.def.Type {
	case "bool":
		bv, err := strconv.ParseBool(strings.TrimSpace(out))
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", out)
		}
		v = bv
	case "number":
		if strings.TrimSpace(out) == "" {
			v = 0
			break
		}
		n := json.Number(strings.TrimSpace(out))
		if _, err := n.Float64(); err != nil {
			return nil, fmt.Errorf("%q is not a number", out)
		}
		v = n
	}
	if cf.def.Ref != "" {
		v = map[string]any{cf.def.Ref: v}
	}
	return v, nil
}

// Fields lists the payload's fields in spec order.
func (p *Payload) Fields() []string { return append([]string(nil), p.fields...) }

// Get returns a field's value (nil when absent).
func (p *Payload) Get(field string) any { return p.values[field] }

// Set sets a field, appending it when new.
func (p *Payload) Set(field string, v any) {
	if _, ok := p.values[field]; !ok {
		p.fields = append(p.fields, field)
	}
	p.values[field] = v
}

// Map returns a copy of the payload as a map.
func (p *Payload) Map() map[string]any {
	out := make(map[string]any, len(p.values))
	for k, v := range p.values {
		out[k] = v
	}
	return out
}

// Warnings are problems that do not stop delivery (empty required fields).
func (p *Payload) Warnings() []Issue { return append([]Issue(nil), p.warnings...) }

// MarshalJSON renders the body with fields in spec order and no HTML escaping.
func (p *Payload) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range p.fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := encode(&buf, f); err != nil {
			return nil, err
		}
		buf.WriteByte(':')
		if err := encode(&buf, p.values[f]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func encode(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode adds a newline
	return nil
}

// Hash is a stable SHA-256 of the body; equal payloads have equal hashes.
func (p *Payload) Hash() string {
	b, _ := p.MarshalJSON()
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FieldChange is one field that differs between two payloads.
type FieldChange struct {
	Field    string
	Old, New any
}
