package kingdee

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

// Filter is a FilterString expression built from typed parts. Values are
// always rendered as literals: strings and times single-quoted with every
// embedded quote doubled, numbers validated, so no data value can change
// the structure of the filter. Field names must be identifiers, optionally
// dotted (FUseOrgId.FNumber). Build the final string with [Filter.Build].
type Filter struct {
	expr     string
	err      error
	compound bool // needs parentheses when nested
}

// Build returns the FilterString, or the first error met while building it
// (a bad field name or an unsupported value type).
func (f Filter) Build() (string, error) {
	if f.err != nil {
		return "", f.err
	}
	return f.expr, nil
}

// String returns the FilterString; for a filter that failed to build it
// returns a text the server rejects (prefer [Filter.Build]).
func (f Filter) String() string {
	if f.err != nil {
		return "<invalid filter: " + f.err.Error() + ">"
	}
	return f.expr
}

// Eq is `field = value`.
func Eq(field string, value any) Filter { return cmp(field, "=", value) }

// Ne is `field <> value`.
func Ne(field string, value any) Filter { return cmp(field, "<>", value) }

// Gt is `field > value`.
func Gt(field string, value any) Filter { return cmp(field, ">", value) }

// Gte is `field >= value`.
func Gte(field string, value any) Filter { return cmp(field, ">=", value) }

// Lt is `field < value`.
func Lt(field string, value any) Filter { return cmp(field, "<", value) }

// Lte is `field <= value`.
func Lte(field string, value any) Filter { return cmp(field, "<=", value) }

// Like is `field like 'pattern'`; % and _ in pattern are wildcards.
func Like(field, pattern string) Filter { return cmp(field, "like", pattern) }

// In is `field in (v1, v2, ...)`; it needs at least one value.
func In(field string, values ...any) Filter {
	if err := checkField(field); err != nil {
		return Filter{err: err}
	}
	if len(values) == 0 {
		return Filter{err: fmt.Errorf("kingdee filter: In(%s) needs at least one value", field)}
	}
	lits := make([]string, len(values))
	for i, v := range values {
		lit, err := Literal(v)
		if err != nil {
			return Filter{err: fmt.Errorf("kingdee filter: In(%s) value %d: %w", field, i, err)}
		}
		lits[i] = lit
	}
	return Filter{expr: field + " in (" + strings.Join(lits, ", ") + ")"}
}

// IsNull is `field is null`.
func IsNull(field string) Filter {
	if err := checkField(field); err != nil {
		return Filter{err: err}
	}
	return Filter{expr: field + " is null"}
}

// And joins filters with `and`; empty filters are skipped.
func And(fs ...Filter) Filter { return join("and", fs) }

// Or joins filters with `or`; empty filters are skipped.
func Or(fs ...Filter) Filter { return join("or", fs) }

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
		if f.compound {
			parts[i] = "(" + f.expr + ")"
		}
	}
	return Filter{expr: strings.Join(parts, " "+op+" "), compound: true}
}

func cmp(field, op string, value any) Filter {
	if err := checkField(field); err != nil {
		return Filter{err: err}
	}
	lit, err := Literal(value)
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

// Quote renders s as a single-quoted literal with embedded quotes doubled.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// FormatTime renders t as the zone-less `yyyy-MM-dd HH:mm:ss` the server
// expects, in GMT+8.
func FormatTime(t time.Time) string { return vendor.FormatDateTime(t) }

// Literal renders a Go value as a FilterString literal: strings and
// time.Time quoted ('2006-01-02 15:04:05', GMT+8), integers and finite
// floats bare, json.Number validated, bool as '1'/'0' (Kingdee check boxes).
func Literal(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return Quote(x), nil
	case time.Time:
		return Quote(FormatTime(x)), nil
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
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return "", fmt.Errorf("%q is not a number", string(x))
		}
		return formatFloatText(string(x))
	default:
		return "", fmt.Errorf("unsupported value type %T", v)
	}
}

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
