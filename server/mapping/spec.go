package mapping

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed specs/*.yaml
var embedded embed.FS

// Record is one source record: field values by source field key ("FName", "FUseOrgId.FName",
// "agentName", …).
type Record map[string]any

// Vars are the run variables templates can use.
type Vars struct {
	LastSyncTime, CurrentTime     time.Time
	PageSize, StartRow, StartPage int
}

// file is a spec file as written.
type file struct {
	Flow   string `yaml:"flow"`
	Source struct {
		Key         string            `yaml:"key"`
		Cursor      string            `yaml:"cursor"`
		Fields      []string          `yaml:"fields"`
		EntryFields []string          `yaml:"entry_fields"`
		Aliases     map[string]string `yaml:"aliases"`
	} `yaml:"source"`
	Target struct {
		Operation string                       `yaml:"operation"`
		Key       string                       `yaml:"key"`
		Options   map[string]any               `yaml:"options"`
		Maps      map[string]map[string]string `yaml:"maps"`
		Fields    []fieldDef                   `yaml:"fields"`
	} `yaml:"target"`
}

type fieldDef struct {
	Name     string `yaml:"name"`
	Template string `yaml:"template"`
	// Ref wraps the value as a Kingdee base-data reference: {"<Ref>": value}.
	Ref string `yaml:"ref"`
	// Type is string (default), bool or number.
	Type        string `yaml:"type"`
	line, col   int    // position of the template value
	nline, ncol int    // position of the field entry
	quoted      bool
}

func (f *fieldDef) UnmarshalYAML(n *yaml.Node) error {
	type plain fieldDef
	if err := n.Decode((*plain)(f)); err != nil {
		return err
	}
	f.line, f.col = n.Line, n.Column
	f.nline, f.ncol = n.Line, n.Column
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "template" {
			v := n.Content[i+1]
			f.line, f.col = v.Line, v.Column
			f.quoted = v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
		}
	}
	return nil
}

// Spec is a compiled, validated mapping spec.
type Spec struct {
	name     string
	f        file
	fields   []compiledField
	header   []string
	entry    []string
	required []string
}

type compiledField struct {
	def fieldDef
	tpl *Template
}

// Issue is a problem with one target field.
type Issue struct {
	Field, Message string
}

// Parse compiles and validates a spec; name is used in error messages (usually the file name). All
// problems are reported together, each with the file, line:column and target field.
func Parse(name string, data []byte) (*Spec, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	sc, ok := schemas[f.Flow]
	if !ok {
		return nil, fmt.Errorf("%s: unknown flow %q (want customers or agents)", name, f.Flow)
	}
	s := &Spec{name: name, f: f, required: sc.required}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}

	resolve := func(id string) (key string, entry, ok bool) {
		if variables[id] {
			return id, false, true
		}
		if k, ok := f.Source.Aliases[id]; ok {
			id = k
		}
		return id, sc.entry[id], sc.source[id] || sc.entry[id]
	}
	for alias, key := range f.Source.Aliases {
		if !sc.source[key] && !sc.entry[key] {
			fail("alias %q: %q is not a %s source field", alias, key, f.Flow)
		}
	}
	header, entry := map[string]bool{}, map[string]bool{}
	for _, k := range f.Source.Fields {
		if !sc.source[k] {
			fail("source field %q is not a %s source field", k, f.Flow)
		}
		header[k] = true
	}
	for _, k := range f.Source.EntryFields {
		if !sc.entry[k] {
			fail("entry field %q is not a %s sub-record field", k, f.Flow)
		}
		entry[k] = true
	}
	if f.Source.Key == "" || !sc.source[f.Source.Key] {
		fail("source key %q is not a %s source field", f.Source.Key, f.Flow)
	}
	header[f.Source.Key] = true
	if f.Source.Cursor != "" {
		if !sc.source[f.Source.Cursor] {
			fail("cursor %q is not a %s source field", f.Source.Cursor, f.Flow)
		}
		header[f.Source.Cursor] = true
	}
	seen := map[string]bool{}
	for _, fd := range f.Target.Fields {
		where := func(p Pos) string {
			col := fd.col + p.Col - 1
			if fd.quoted {
				col++
			}
			return fmt.Sprintf("%d:%d: target field %q", fd.line+p.Line-1, col, fd.Name)
		}
		switch {
		case !sc.target[fd.Name]:
			fail("%d:%d: unknown target field %q", fd.nline, fd.ncol, fd.Name)
		case seen[fd.Name]:
			fail("%d:%d: target field %q given twice", fd.nline, fd.ncol, fd.Name)
		}
		seen[fd.Name] = true
		if fd.Type != "" && fd.Type != "string" && fd.Type != "bool" && fd.Type != "number" {
			fail("%s: unknown type %q (want string, bool or number)", where(Pos{1, 1}), fd.Type)
		}
		tpl, err := ParseTemplate(fd.Template)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				fail("%s: %s", where(se.Pos), se.Msg)
			} else {
				fail("%s: %v", where(Pos{1, 1}), err)
			}
			continue
		}
		for _, p := range tpl.parts {
			if p.expr == nil {
				continue
			}
			key, isEntry, ok := resolve(p.expr.ident)
			if !ok {
				fail("%s: unknown source field %q", where(p.expr.pos), p.expr.ident)
			} else if !variables[key] {
				if isEntry {
					entry[key] = true
				} else {
					header[key] = true
				}
			}
			for _, c := range p.expr.calls {
				fn, ok := functions[c.name]
				switch {
				case !ok:
					fail("%s: unknown function %q", where(c.pos), c.name)
				case len(c.args) < fn.minArgs || len(c.args) > fn.maxArgs:
					fail("%s: %s takes %d to %d arguments, got %d", where(c.pos), c.name, fn.minArgs, fn.maxArgs, len(c.args))
				case c.name == "map" && f.Target.Maps[c.args[0]] == nil:
					fail("%s: unknown value map %q", where(c.pos), c.args[0])
				}
			}
		}
		s.fields = append(s.fields, compiledField{def: fd, tpl: tpl})
	}
	for _, r := range sc.required {
		if !seen[r] {
			fail("required target field %q is missing", r)
		}
	}
	if f.Target.Key != "" && !seen[f.Target.Key] {
		fail("target key %q is not one of the target fields", f.Target.Key)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for k := range header {
		s.header = append(s.header, k)
	}
	for k := range entry {
		s.entry = append(s.entry, k)
	}
	slices.Sort(s.header)
	slices.Sort(s.entry)
	return s, nil
}

// Flow names the flow the spec maps.
func (s *Spec) Flow() string { return s.f.Flow }

// Name is the spec's file name.
func (s *Spec) Name() string { return s.name }

// SourceFields are the header source fields to fetch (Kingdee FieldKeys), sorted.
func (s *Spec) SourceFields() []string { return slices.Clone(s.header) }

// EntryFields are the sub-record fields to fetch (Kingdee entry FieldKeys), sorted.
func (s *Spec) EntryFields() []string { return slices.Clone(s.entry) }

// SourceKeyField names the source key field.
func (s *Spec) SourceKeyField() string { return s.f.Source.Key }

// TargetKeyField names the target field that identifies the record in the target.
func (s *Spec) TargetKeyField() string { return s.f.Target.Key }

// CursorField names the source modification-time field.
func (s *Spec) CursorField() string { return s.f.Source.Cursor }

// Operation names the target call.
func (s *Spec) Operation() string { return s.f.Target.Operation }

// Options are the target call's options (e.g. IsAutoSubmitAndAudit).
func (s *Spec) Options() map[string]any {
	out := make(map[string]any, len(s.f.Target.Options))
	for k, v := range s.f.Target.Options {
		out[k] = v
	}
	return out
}

// SourceKey returns a record's source key.
func (s *Spec) SourceKey(rec Record) (string, error) {
	k := text(rec[s.f.Source.Key])
	if k == "" {
		return "", fmt.Errorf("record has no %s", s.f.Source.Key)
	}
	return k, nil
}

// Set is the active specs, one per flow.
type Set struct {
	specs map[string]*Spec
}

// LoadSet loads the embedded default specs and, if dir is not empty, overrides each with the file of
// the same name in dir (customers.yaml, agents.yaml). Any invalid spec is an error.
func LoadSet(dir string) (*Set, error) {
	set := &Set{specs: map[string]*Spec{}}
	entries, err := fs.ReadDir(embedded, "specs")
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, e := range entries {
		data, err := embedded.ReadFile("specs/" + e.Name())
		if err != nil {
			return nil, err
		}
		name := "embedded " + e.Name()
		if dir != "" {
			p := filepath.Join(dir, e.Name())
			if b, err := os.ReadFile(p); err == nil {
				data, name = b, p
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("mapping spec: %w", err)
			}
		}
		s, err := Parse(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if want := strings.TrimSuffix(e.Name(), ".yaml"); s.Flow() != want {
			errs = append(errs, fmt.Errorf("%s: declares flow %q, want %q", name, s.Flow(), want))
			continue
		}
		set.specs[s.Flow()] = s
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

// Get returns the spec of a flow.
func (s *Set) Get(flow string) (*Spec, bool) {
	sp, ok := s.specs[flow]
	return sp, ok
}
