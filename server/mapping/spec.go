package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Record is one source record: field values by source field key ("FName", "FUseOrgId.FName",
// "FADDRESS1", "agentName", …), as the source client decoded them (strings, float64 or json.Number,
// nil).
type Record map[string]any

// Vars are the run variables templates can use.
type Vars struct {
	// LastSyncTime and CurrentTime bound the incremental window ({{LAST_SYNC_TIME}}, {{CURRENT_TIME}}).
	LastSyncTime, CurrentTime time.Time
	// PageSize, StartRow and StartPage are {{PAGINATION_PAGE_SIZE}}, {{PAGINATION_START_ROW}} and
	// {{PAGINATION_START_PAGE}}.
	PageSize, StartRow, StartPage int
}

// TargetOptions are the target call's options besides the body (Kingdee BatchSave:
// IsAutoSubmitAndAudit, IsVerifyBaseDataField, …), typed as validated at load: bool, int, string or
// []string.
type TargetOptions map[string]any

// Bool returns a boolean option and whether the spec sets it.
func (o TargetOptions) Bool(name string) (value, ok bool) {
	value, ok = o[name].(bool)
	return value, ok
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
		Request     []fieldDef        `yaml:"request"`
	} `yaml:"source"`
	Target struct {
		Operation string                       `yaml:"operation"`
		Key       string                       `yaml:"key"`
		Options   map[string]any               `yaml:"options"`
		Maps      map[string]map[string]string `yaml:"maps"`
		Fields    []fieldDef                   `yaml:"fields"`
	} `yaml:"target"`
}

// fieldDef is one field entry of target.fields or source.request.
type fieldDef struct {
	Name     string `yaml:"name"`
	Template string `yaml:"template"`
	// Ref wraps the value as a Kingdee base-data reference: {"<Ref>": value}.
	Ref string `yaml:"ref"`
	// Type is string (default), bool or number.
	Type string `yaml:"type"`
	// OnUpdate is the field's update policy (target fields only): set, overwrite, keep or if_empty.
	OnUpdate string `yaml:"on_update"`
}

// Spec is a compiled, validated mapping spec. It is immutable and safe for concurrent use.
type Spec struct {
	name    string
	f       file
	schema  *schema
	fields  []compiledField
	request []compiledField
	// sorted and requestSorted are the indexes of fields and request in the sorted order of their
	// names: a payload's canonical JSON lists them so, without sorting them per payload.
	sorted, requestSorted []int
	header                []string
	entry                 []string
}

type compiledField struct {
	name, ref, typ string
	onUpdate       UpdatePolicy
	parts          []compiledPart
	// constant is the field's value when its template is literal text only (isConst): rendered
	// once, at compile time, and shared by every payload (a base-data map too: payloads never change
	// one in place).
	constant any
	isConst  bool
}

// freeze renders a field whose template is literal text only once, as its constant.
func (cf *compiledField) freeze() {
	for _, p := range cf.parts {
		if p.expr != nil {
			return
		}
	}
	if v, _, err := cf.render(nil, Vars{}); err == nil {
		cf.constant, cf.isConst = v, true
	}
}

// compiledPart is literal text (expr == nil) or a compiled {{…}} action.
type compiledPart struct {
	text string
	expr *compiledExpr
}

type compiledExpr struct {
	key      string // the source field key or variable name it reads
	variable bool
	steps    []step
}

// Parse compiles and validates a spec; name is used in error messages (usually the file name).
// Every problem is reported at once in a *SpecError, each with the file, line:column, the field and
// the position inside its template.
func Parse(name string, data []byte) (*Spec, error) {
	fail := func(msg string) (*Spec, error) {
		return nil, &SpecError{Problems: []*Problem{{File: name, Msg: msg}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); errors.Is(err, io.EOF) {
		return fail("empty spec")
	} else if err != nil {
		return nil, yamlError(name, err)
	}
	c := &compiler{name: name, lines: strings.Split(string(data), "\n"), root: &root, f: f}
	s := c.compile()
	if len(c.problems) > 0 {
		sort.SliceStable(c.problems, func(i, j int) bool {
			a, b := c.problems[i], c.problems[j]
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, &SpecError{Problems: c.problems}
	}
	return s, nil
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	yamlUnknown  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	yamlTypeName = regexp.MustCompile(` into mapping\.\w+|mapping\.`)
)

// yamlError turns a YAML error into problems with line numbers, one per error.
func yamlError(name string, err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	se := &SpecError{}
	for _, m := range msgs {
		p := &Problem{File: name, Msg: m}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			p.Line, _ = strconv.Atoi(g[1])
			p.Msg = g[2]
			if u := yamlUnknown.FindStringSubmatch(p.Msg); u != nil {
				p.Msg = fmt.Sprintf("unknown key %q", u[1])
			}
			p.Msg = yamlTypeName.ReplaceAllString(p.Msg, "")
		}
		se.Problems = append(se.Problems, p)
	}
	return se
}

// compiler compiles one spec file, collecting problems.
type compiler struct {
	name     string
	lines    []string
	root     *yaml.Node
	f        file
	sc       *schema
	problems []*Problem
}

func (c *compiler) problem(n *yaml.Node, format string, args ...any) {
	p := &Problem{File: c.name, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	c.problems = append(c.problems, p)
}

func (c *compiler) compile() *Spec {
	f := c.f
	sc, ok := schemas[f.Flow]
	if !ok {
		c.problem(lookup(c.root, "flow"), "unknown flow %q (want agents or customers)", f.Flow)
		return nil
	}
	c.sc = sc
	s := &Spec{name: c.name, f: f, schema: sc}
	header, entry := map[string]bool{}, map[string]bool{}

	src := lookup(c.root, "source")
	for i, k := range f.Source.Fields {
		if !sc.source[k] {
			c.problem(item(lookup(src, "fields"), i), "source field %q is not a %s source field%s", k, f.Flow, c.suggest(k))
		}
		header[k] = true
	}
	for i, k := range f.Source.EntryFields {
		if !sc.entry[k] {
			c.problem(item(lookup(src, "entry_fields"), i), "entry field %q is not a %s sub-record field%s", k, f.Flow, c.suggest(k))
		}
		entry[k] = true
	}
	for _, alias := range slices.Sorted(maps.Keys(f.Source.Aliases)) {
		key := f.Source.Aliases[alias]
		switch {
		case variables[alias] || sc.source[alias] || sc.entry[alias]:
			c.problem(keyNode(lookup(src, "aliases"), alias), "alias %q hides the source field or variable of that name", alias)
		case !sc.source[key] && !sc.entry[key]:
			c.problem(lookup(src, "aliases", alias), "alias %q: %q is not a %s source field%s", alias, key, f.Flow, c.suggest(key))
		}
	}
	for _, k := range []struct{ what, field string }{{"key", f.Source.Key}, {"cursor", f.Source.Cursor}} {
		n := lookup(src, k.what)
		switch {
		case k.field == "":
			c.problem(src, "source %s is missing", k.what)
		case !sc.source[k.field]:
			c.problem(n, "source %s %q is not a %s source field%s", k.what, k.field, f.Flow, c.suggest(k.field))
		default:
			header[k.field] = true
		}
	}

	tgt := lookup(c.root, "target")
	switch f.Target.Operation {
	case sc.operation:
	case "":
		c.problem(tgt, "target operation is missing (the %s flow calls %q)", f.Flow, sc.operation)
	default:
		c.problem(lookup(tgt, "operation"), "target operation %q: the %s flow calls %q", f.Target.Operation, f.Flow, sc.operation)
	}
	c.options(lookup(tgt, "options"))

	reqSeen := map[string]bool{}
	for i, fd := range f.Source.Request {
		if cf, ok := c.field("request", fd, item(lookup(src, "request"), i), sc.request, reqSeen, nil, nil); ok {
			s.request = append(s.request, cf)
		}
	}
	if sc.keysetRequest {
		c.keysetRequestCheck(s)
	}
	seen := map[string]bool{}
	for i, fd := range f.Target.Fields {
		if cf, ok := c.field("target", fd, item(lookup(tgt, "fields"), i), sc.target, seen, header, entry); ok {
			s.fields = append(s.fields, cf)
		}
	}
	for _, r := range sc.required {
		if !seen[r] {
			c.problem(orNode(lookup(tgt, "fields"), tgt), "required target field %q is missing", r)
		}
	}
	switch {
	case f.Target.Key == "":
		c.problem(tgt, "target key is missing")
	case !seen[f.Target.Key]:
		c.problem(lookup(tgt, "key"), "target key %q is not one of the target fields", f.Target.Key)
	}
	s.sorted, s.requestSorted = sortedOrder(s.fields), sortedOrder(s.request)
	s.header = slices.Sorted(maps.Keys(header))
	s.entry = slices.Sorted(maps.Keys(entry))
	return s
}

// sortedOrder returns the fields' indexes in the sorted order of their names.
func sortedOrder(fields []compiledField) []int {
	order := make([]int, len(fields))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(fields[a].name, fields[b].name) })
	return order
}

func orNode(n, fallback *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return fallback
}

// options checks the target call's options against the flow's option schema.
func (c *compiler) options(n *yaml.Node) {
	for _, name := range slices.Sorted(maps.Keys(c.f.Target.Options)) {
		v := c.f.Target.Options[name]
		kind, ok := c.sc.options[name]
		if !ok {
			if len(c.sc.options) == 0 {
				c.problem(keyNode(n, name), "unknown option %q: %s takes no options", name, c.sc.operation)
			} else {
				c.problem(keyNode(n, name), "unknown option %q for %s", name, c.sc.operation)
			}
			continue
		}
		good := false
		switch kind {
		case optBool:
			_, good = v.(bool)
		case optInt:
			_, good = v.(int)
		case optString:
			_, good = v.(string)
		case optStrings:
			l, isList := v.([]any)
			good = isList
			for _, e := range l {
				if _, s := e.(string); !s {
					good = false
				}
			}
		}
		if !good {
			c.problem(lookup(n, name), "option %q must be %s, not %v", name, [...]string{"true or false", "a whole number", "text", "a list of field keys"}[kind], v)
		}
	}
}

// field compiles one field entry; header and entry collect the source fields it reads (nil for
// request parameters, which may only use run variables).
func (c *compiler) field(section string, fd fieldDef, n *yaml.Node, known, seen, header, entry map[string]bool) (compiledField, bool) {
	cf := compiledField{name: fd.Name, ref: fd.Ref, typ: fd.Type}
	fail := func(at *yaml.Node, p Pos, format string, args ...any) {
		pr := &Problem{File: c.name, Section: section, Field: fd.Name, Template: p, Msg: fmt.Sprintf(format, args...)}
		if p.Line > 0 {
			pr.Line, pr.Col = templatePos(c.lines, at, fd.Template, p)
		} else if at != nil {
			pr.Line, pr.Col = at.Line, at.Column
		}
		c.problems = append(c.problems, pr)
	}
	before := len(c.problems)
	switch {
	case fd.Name == "":
		c.problem(n, "%s field without a name", section)
		return cf, false
	case !known[fd.Name]:
		fail(lookup(n, "name"), Pos{}, "unknown %s field%s", section, c.suggestIn(fd.Name, known))
	case c.sc.reserved[fd.Name] != "" && section == "target":
		fail(lookup(n, "name"), Pos{}, "%s", c.sc.reserved[fd.Name])
	case seen[fd.Name]:
		fail(lookup(n, "name"), Pos{}, "given twice")
	}
	seen[fd.Name] = true
	cf.onUpdate = c.updatePolicy(section, fd, n, fail)
	switch fd.Type {
	case "", "string", "bool", "number":
	default:
		fail(lookup(n, "type"), Pos{}, "unknown type %q (want string, bool or number)", fd.Type)
	}
	switch {
	case section == "target" && c.sc.baseData[fd.Name] && fd.Ref == "":
		fail(lookup(n, "name"), Pos{}, "a base-data reference: add ref: FNumber")
	case fd.Ref != "" && (section != "target" || c.sc.plain[fd.Name]):
		fail(lookup(n, "ref"), Pos{}, "not a base-data reference, ref does not apply")
	case fd.Ref != "" && fd.Ref != "FNumber" && fd.Ref != "FName":
		fail(lookup(n, "ref"), Pos{}, "ref %q: want FNumber or FName", fd.Ref)
	}
	tplNode := orNode(lookup(n, "template"), n)
	tpl, err := ParseTemplate(fd.Template)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			fail(tplNode, se.Pos, "%s", se.Msg)
		} else {
			fail(tplNode, Pos{1, 1}, "%v", err)
		}
		return cf, false
	}
	for _, nd := range tpl.nodes {
		if nd.action == nil {
			cf.parts = append(cf.parts, compiledPart{text: nd.text})
			continue
		}
		a := nd.action
		e := &compiledExpr{key: a.name, variable: variables[a.name]}
		if !e.variable {
			k, isAlias := c.f.Source.Aliases[a.name]
			if isAlias {
				e.key = k
			}
			switch {
			case isAlias && !c.sc.source[k] && !c.sc.entry[k]:
				// The alias itself is reported once.
			case header == nil:
				fail(tplNode, a.pos, "unknown variable %q: request parameters use run variables only (LAST_SYNC_TIME, CURRENT_TIME, PAGINATION_PAGE_SIZE, PAGINATION_START_ROW, PAGINATION_START_PAGE)", a.name)
			case c.sc.entry[e.key]:
				entry[e.key] = true
			case c.sc.source[e.key]:
				header[e.key] = true
			default:
				fail(tplNode, a.pos, "unknown source field or alias %q%s", a.name, c.suggest(a.name))
			}
		} else if header == nil && c.sc.requestVars != nil && !c.sc.requestVars[a.name] {
			fail(tplNode, a.pos, "variable %q is not bound here: the %s request is rendered once, at start-up (a read resumes from its keyset cursor); use %s",
				a.name, c.f.Flow, strings.Join(slices.Sorted(maps.Keys(c.sc.requestVars)), " or "))
		}
		for _, call := range a.calls {
			fn, ok := functions[call.name]
			if !ok {
				fail(tplNode, call.pos, "unknown function %q (have %s)", call.name, strings.Join(slices.Sorted(maps.Keys(functions)), ", "))
				continue
			}
			if len(call.args) < fn.minArgs || len(call.args) > fn.maxArgs {
				fail(tplNode, call.pos, "%s takes %s, got %d", call.name, argCount(fn.minArgs, fn.maxArgs), len(call.args))
				continue
			}
			st, err := fn.compile(call.args, c.f.Target.Maps)
			if err != nil {
				fail(tplNode, call.pos, "%v", err)
				continue
			}
			e.steps = append(e.steps, st)
		}
		cf.parts = append(cf.parts, compiledPart{expr: e})
	}
	ok := len(c.problems) == before
	if ok {
		cf.freeze()
	}
	return cf, ok
}

func argCount(lo, hi int) string {
	switch {
	case lo == hi && lo == 0:
		return "no arguments"
	case lo == hi && lo == 1:
		return "1 argument"
	case lo == hi:
		return fmt.Sprintf("%d arguments", lo)
	default:
		return fmt.Sprintf("%d to %d arguments", lo, hi)
	}
}

// suggest names a known source field, alias or variable that differs from name only in case.
func (c *compiler) suggest(name string) string {
	known := map[string]bool{}
	maps.Copy(known, c.sc.source)
	maps.Copy(known, c.sc.entry)
	maps.Copy(known, variables)
	for a := range c.f.Source.Aliases {
		known[a] = true
	}
	return c.suggestIn(name, known)
}

func (c *compiler) suggestIn(name string, known map[string]bool) string {
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if k != name && strings.EqualFold(k, name) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}

// Flow names the flow the spec maps ("customers" or "agents").
func (s *Spec) Flow() string { return s.f.Flow }

// Name is the spec's name as given to Parse (a path for overrides).
func (s *Spec) Name() string { return s.name }

// SourceFields are the header source fields to fetch (Kingdee FieldKeys, Zhilong response fields):
// the declared ones, the key, the cursor and every field a template reads; sorted.
func (s *Spec) SourceFields() []string { return slices.Clone(s.header) }

// EntryFields are the sub-record fields to fetch (Kingdee FT_BD_CUSTCONTACT FieldKeys), sorted.
func (s *Spec) EntryFields() []string { return slices.Clone(s.entry) }

// SourceKeyField names the source field that identifies a record (FCUSTID, agentId).
func (s *Spec) SourceKeyField() string { return s.f.Source.Key }

// TargetKeyField names the target field that identifies the record in the target (distributorCode,
// F_out_id).
func (s *Spec) TargetKeyField() string { return s.f.Target.Key }

// CursorField names the source modification-time field (FModifyDate, updateTime).
func (s *Spec) CursorField() string { return s.f.Source.Cursor }

// Operation names the target call.
func (s *Spec) Operation() string { return s.f.Target.Operation }

// TargetFields lists the target fields in spec order.
func (s *Spec) TargetFields() []string {
	out := make([]string, len(s.fields))
	for i, f := range s.fields {
		out[i] = f.name
	}
	return out
}

// Options are the target call's options (a copy).
func (s *Spec) Options() TargetOptions {
	out := make(TargetOptions, len(s.f.Target.Options))
	for k, v := range s.f.Target.Options {
		if l, ok := v.([]any); ok {
			strs := make([]string, len(l))
			for i, e := range l {
				strs[i], _ = e.(string)
			}
			v = strs
		}
		out[k] = v
	}
	return out
}

// SourceKey returns a record's source key as text.
func (s *Spec) SourceKey(rec Record) (string, error) {
	k := text(rec[s.f.Source.Key])
	if k == "" {
		return "", fmt.Errorf("record has no %s", s.f.Source.Key)
	}
	return k, nil
}
