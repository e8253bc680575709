// Package mapping holds syncgate's field mappings: a YAML spec per flow (embedded defaults in
// specs/, overridable from a directory), compiled once at load and validated against the flow's
// source schema (the seed documents' response fields) and target schema. README.md documents the
// spec format and the template language.
//
// Use:
//
//	set, err := mapping.LoadSet(cfg.MappingDir) // "" = embedded defaults only
//	spec, _ := set.Get("customers")
//	keys := spec.SourceFields()                 // Kingdee FieldKeys to fetch (+ spec.EntryFields())
//	p, err := spec.Render(rec, mapping.Vars{LastSyncTime: from, CurrentTime: to})
//	body, _ := p.MarshalJSON()                  // the exact target body, fields in spec order
//	unchanged := p.Hash() == lastDeliveredHash
//
// A spec given at run time (Preview's "try this spec") goes through Parse, which reports every
// problem at once as a *SpecError of *Problem values (file, line:column, target field, position in
// the template).
//
// # Why a parser of our own
//
// The seed syntax ({{Name}}{{bfn_num}}, {{LAST_SYNC_TIME datetime}}) is not valid text/template, expr
// or CEL: each would still need a front end that rewrites it, and error positions would then point
// into rewritten text. The language is tiny — literal text, names, a pipe of functions with constant
// arguments — so a direct lexer and parser (template.go) gives exact line:column errors, has no side
// effects or loops by construction, checks function arguments once at load, and is fuzzed
// (FuzzParse: no panics, parse → String → parse gives the same template).
package mapping
