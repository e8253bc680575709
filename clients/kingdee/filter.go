package kingdee

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

// Filter is a FilterString expression built from typed parts; the builder is the only way to make
// one, and a [Query] takes nothing else. Values are always rendered as literals: strings and times
// single-quoted with every embedded quote doubled, numbers validated, so no data value can change
// the structure of the filter. Field names must be identifiers, optionally dotted
// (FUseOrgId.FNumber). A part that cannot be rendered (a bad field name, an empty IN list, a NaN)
// makes the whole filter fail: [Filter.Build] returns that error, and [Client.QueryPage] returns
// it without sending anything. The zero Filter is the empty filter (every row).
type Filter struct {
	expr string
	err  error
	// join is "and" or "or" for filters joined so, "group" for [Group], "" for a single condition:
	// a nested filter is parenthesised unless it is a condition or joined by the same operator.
	join string
}

// Build renders the FilterString, or returns the first error met while building it.
func (f Filter) Build() (string, error) {
	if f.err != nil {
		return "", f.err
	}
	return f.expr, nil
}

// Value is what a field is compared with: text, a number, a time or a check box (see [Eq] for
// how each is written).
type Value interface {
	string | json.Number | bool | int | int8 | int16 | int32 | int64 | uint | uint8 | uint16 | uint32 | uint64 |
		float32 | float64 | time.Time
}

// Eq is `field = value`. Strings are quoted; integers and finite floats are written bare (a NaN
// or an infinity is an error); a json.Number must be a number; a bool is '1' or '0' (Kingdee check
// boxes); a time is quoted in GMT+8 as `yyyy-MM-dd HH:mm:ss`, with `.fff` when it has
// milliseconds (Kingdee stores FModifyDate with milliseconds; finer digits are dropped).
func Eq[V Value](field string, value V) Filter { return cmp(field, "=", value) }

// Ne is `field <> value` (values as for [Eq]).
func Ne[V Value](field string, value V) Filter { return cmp(field, "<>", value) }

// Gt is `field > value` (values as for [Eq]).
func Gt[V Value](field string, value V) Filter { return cmp(field, ">", value) }

// Gte is `field >= value` (values as for [Eq]).
func Gte[V Value](field string, value V) Filter { return cmp(field, ">=", value) }

// Lt is `field < value` (values as for [Eq]).
func Lt[V Value](field string, value V) Filter { return cmp(field, "<", value) }

// Lte is `field <= value` (values as for [Eq]).
func Lte[V Value](field string, value V) Filter { return cmp(field, "<=", value) }

// Like is `field like 'pattern'`; % and _ in pattern are wildcards.
func Like(field, pattern string) Filter { return cmp(field, "like", pattern) }

// In is `field in (v1, v2, ...)` (values as for [Eq]); it needs at least one value.
func In[V Value](field string, values ...V) Filter {
	if err := checkField(field); err != nil {
		return Filter{err: err}
	}
	if len(values) == 0 {
		return Filter{err: fmt.Errorf("kingdee filter: %s in (): no values", field)}
	}
	var b strings.Builder
	b.WriteString(field)
	b.WriteString(" in (")
	for i, v := range values {
		lit, err := literal(v)
		if err != nil {
			return Filter{err: fmt.Errorf("kingdee filter: %s in (…) value %d: %w", field, i, err)}
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(lit)
	}
	b.WriteString(")")
	return Filter{expr: b.String()}
}

// IsNull is `field is null`.
func IsNull(field string) Filter {
	if err := checkField(field); err != nil {
		return Filter{err: err}
	}
	return Filter{expr: field + " is null"}
}

// And joins filters with `and`; empty filters are skipped. Filters joined by `or` are
// parenthesised; those joined by `and` are not (`and` is associative).
func And(fs ...Filter) Filter { return join("and", fs) }

// Or joins filters with `or`; empty filters are skipped. Filters joined by `and` are
// parenthesised; those joined by `or` are not.
func Or(fs ...Filter) Filter { return join("or", fs) }

// Group keeps f in parentheses wherever it is nested in [And] or [Or], even a single condition
// that needs none (at the top level it is written as is).
func Group(f Filter) Filter {
	if f.err == nil && f.expr != "" {
		f.join = "group"
	}
	return f
}

// Text is a condition written by a person, such as a mapping spec's FilterString
// (`FUseOrgId.FNumber = '101'`): it is taken as written and always rendered in parentheses, `(text)`,
// so that in [And] it stays one group and cannot absorb the conditions joined to it. It is checked
// only for what could break that grouping, not parsed: text that is blank, has unbalanced
// parentheses outside quoted literals, an unclosed single-quoted literal (a quote inside one is
// written twice, as [Eq] writes it), or a comment (`--`, `/*`) outside quotes, which could hide the
// conditions after it, makes the filter fail. The server checks the rest.
func Text(text string) Filter {
	t := strings.TrimSpace(text)
	if t == "" {
		return Filter{err: errors.New("kingdee filter: empty condition text")}
	}
	depth, quoted := 0, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case quoted:
			if c == '\'' {
				if i+1 < len(t) && t[i+1] == '\'' {
					i++ // a doubled quote inside the literal
				} else {
					quoted = false
				}
			}
		case c == '\'':
			quoted = true
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth < 0 {
				return Filter{err: fmt.Errorf("kingdee filter: condition %q: ')' at byte %d closes no '('", t, i+1)}
			}
		case c == '-' && i+1 < len(t) && t[i+1] == '-', c == '/' && i+1 < len(t) && t[i+1] == '*':
			return Filter{err: fmt.Errorf("kingdee filter: condition %q: a comment (%s) at byte %d", t, t[i:i+2], i+1)}
		}
	}
	switch {
	case quoted:
		return Filter{err: fmt.Errorf("kingdee filter: condition %q: unclosed quote", t)}
	case depth > 0:
		return Filter{err: fmt.Errorf("kingdee filter: condition %q: %d '(' not closed", t, depth)}
	}
	return Filter{expr: "(" + t + ")"}
}

func join(op string, fs []Filter) Filter {
	kept := make([]Filter, 0, len(fs))
	for _, f := range fs {
		if f.err != nil {
			return f
		}
		if f.expr != "" {
			kept = append(kept, f)
		}
	}
	switch len(kept) {
	case 0:
		return Filter{}
	case 1:
		return kept[0]
	}
	parts := make([]string, len(kept))
	for i, f := range kept {
		parts[i] = f.expr
		if f.join != "" && f.join != op {
			parts[i] = "(" + f.expr + ")"
		}
	}
	return Filter{expr: strings.Join(parts, " "+op+" "), join: op}
}

func cmp(field, op string, value any) Filter {
	if err := checkField(field); err != nil {
		return Filter{err: err}
	}
	lit, err := literal(value)
	if err != nil {
		return Filter{err: fmt.Errorf("kingdee filter: %s %s: %w", field, op, err)}
	}
	return Filter{expr: field + " " + op + " " + lit}
}

// checkField accepts identifiers joined by dots.
func checkField(field string) error {
	if field == "" {
		return errors.New("kingdee filter: empty field name")
	}
	for seg := range strings.SplitSeq(field, ".") {
		if seg == "" {
			return fmt.Errorf("kingdee filter: bad field name %q", field)
		}
		for i, r := range seg {
			ok := r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9'
			if !ok {
				return fmt.Errorf("kingdee filter: bad field name %q", field)
			}
		}
	}
	return nil
}

// quote renders s as a single-quoted literal with embedded quotes doubled.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// timeText renders t as the zone-less `yyyy-MM-dd HH:mm:ss` the server expects, in GMT+8, with
// `.fff` when t has milliseconds.
func timeText(t time.Time) string {
	t = t.In(vendor.GMT8())
	if t.Nanosecond() < int(time.Millisecond) {
		return t.Format(vendor.DateTimeLayout)
	}
	return t.Format(vendor.DateTimeLayout + ".000")
}

// literal renders a [Value] as a FilterString literal (see [Eq]).
func literal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return quote(x), nil
	case time.Time:
		return quote(timeText(x)), nil
	case bool:
		if x {
			return "'1'", nil
		}
		return "'0'", nil
	case int:
		return strconv.FormatInt(int64(x), 10), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint8:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint16:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return formatFloat(float64(x))
	case float64:
		return formatFloat(x)
	case json.Number:
		// JSON number syntax first: ParseFloat also reads NaN, Inf and hex floats, which are no
		// FilterString numbers.
		if !jsonNumber.MatchString(string(x)) {
			return "", fmt.Errorf("%q is not a number", string(x))
		}
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return "", fmt.Errorf("%q is out of range", string(x))
		}
		return formatFloatText(string(x))
	default:
		return "", fmt.Errorf("unsupported value type %T", v)
	}
}

// jsonNumber is the JSON number grammar (RFC 8259, section 6).
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

func formatFloat(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", errors.New("non-finite number")
	}
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// formatFloatText re-renders a validated JSON number without exponent.
func formatFloatText(s string) (string, error) {
	if strings.ContainsAny(s, "eE") {
		f, _ := strconv.ParseFloat(s, 64)
		return formatFloat(f)
	}
	return s, nil
}
