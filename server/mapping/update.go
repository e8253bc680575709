package mapping

import "gopkg.in/yaml.v3"

// UpdatePolicy says what an update of an existing target record does with one target field
// (on_update in a spec's target field). Whatever the policy, a create sends every field.
type UpdatePolicy string

// Update policies. The default never overwrites a value in the target with an empty one, and never
// re-sends a field the target only takes at creation.
const (
	// UpdateSet sends the mapped value when it is not empty; an empty value is left out, so the
	// target keeps what it holds (the default for every field that is not creation-only).
	UpdateSet UpdatePolicy = "set"
	// UpdateOverwrite sends the mapped value even when it is empty: an empty mapped value clears the
	// target's value. Use it only for fields the gateway alone maintains.
	UpdateOverwrite UpdatePolicy = "overwrite"
	// UpdateKeep never sends the field on update: the value written at creation stays, and so does
	// whatever people change it to later (the default for creation-only fields such as Kingdee's
	// FCreateOrgId and FUseOrgId).
	UpdateKeep UpdatePolicy = "keep"
	// UpdateIfEmpty sends the mapped value (when not empty) only where the target's current value is
	// empty: it fills blanks and never replaces what someone entered. It needs a read of the target
	// before the update, so only flows whose target can be read offer it (agents: Kingdee).
	UpdateIfEmpty UpdatePolicy = "if_empty"
)

// updatePolicy validates a field's on_update and returns its effective policy.
func (c *compiler) updatePolicy(section string, fd fieldDef, n *yaml.Node, fail func(*yaml.Node, Pos, string, ...any)) UpdatePolicy {
	at := lookup(n, "on_update")
	if section != "target" {
		if fd.OnUpdate != "" {
			fail(at, Pos{}, "on_update applies to target fields only")
		}
		return ""
	}
	def := UpdateSet
	if c.sc.createOnly[fd.Name] {
		def = UpdateKeep
	}
	if c.sc.alwaysSent[fd.Name] {
		def = UpdateOverwrite
	}
	switch p := UpdatePolicy(fd.OnUpdate); {
	case p == "":
		return def
	case p != UpdateSet && p != UpdateOverwrite && p != UpdateKeep && p != UpdateIfEmpty:
		fail(at, Pos{}, "unknown on_update %q (want set, overwrite, keep or if_empty)", fd.OnUpdate)
	case c.sc.alwaysSent[fd.Name]:
		fail(at, Pos{}, "%s is sent with every %s call; it takes no on_update", fd.Name, c.sc.operation)
	case c.sc.createOnly[fd.Name] && p != UpdateKeep:
		fail(at, Pos{}, "%s can only be set when the record is created; on_update must be keep", fd.Name)
	case p == UpdateIfEmpty && !c.sc.readsTarget:
		fail(at, Pos{}, "on_update if_empty needs to read the target first, and %s has no read call", c.sc.operation)
	default:
		return p
	}
	return def
}

// UpdatePolicy returns a target field's update policy ("" for a field the spec does not map).
func (s *Spec) UpdatePolicy(field string) UpdatePolicy {
	for _, f := range s.fields {
		if f.name == field {
			return f.onUpdate
		}
	}
	return ""
}

// IfEmptyFields lists the target fields whose policy is if_empty, in spec order: the fields whose
// current target values an update needs to know.
func (s *Spec) IfEmptyFields() []string {
	var out []string
	for _, f := range s.fields {
		if f.onUpdate == UpdateIfEmpty {
			out = append(out, f.name)
		}
	}
	return out
}

// UpdateFields lists, in spec order, the fields an update of the target record with payload p sends.
// targetEmpty reports whether the target's current value of an if_empty field is empty; nil means
// the target was not read, and then no if_empty field is sent (the safe side).
func (s *Spec) UpdateFields(p *Payload, targetEmpty func(field string) bool) []string {
	out := make([]string, 0, len(s.fields))
	for _, f := range s.fields {
		i := p.index(f.name)
		if i < 0 {
			continue
		}
		v := p.vals[i]
		switch f.onUpdate {
		case UpdateOverwrite:
		case UpdateSet:
			if isEmpty(v) {
				continue
			}
		case UpdateIfEmpty:
			if isEmpty(v) || targetEmpty == nil || !targetEmpty(f.name) {
				continue
			}
		default: // keep
			continue
		}
		out = append(out, f.name)
	}
	return out
}

// IsEmpty reports whether a mapped or target value counts as empty for the update policies: nil,
// blank text, or a base-data reference whose values are all empty.
func IsEmpty(v any) bool { return isEmpty(v) }

// FieldRef returns how a target field refers to Kingdee base data (FNumber or FName), or "" for a
// plain field.
func (s *Spec) FieldRef(field string) string {
	for _, f := range s.fields {
		if f.name == field {
			return f.ref
		}
	}
	return ""
}
