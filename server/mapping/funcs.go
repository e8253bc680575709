package mapping

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// step is one compiled function application.
type step func(v any) (any, error)

// function is a template function; compile checks its arguments once, at load.
type function struct {
	minArgs, maxArgs int
	compile          func(args []string, maps map[string]map[string]string) (step, error)
}

func noArgs(f func(v any) (any, error)) func([]string, map[string]map[string]string) (step, error) {
	return func([]string, map[string]map[string]string) (step, error) { return f, nil }
}

func textStep(f func(string) string) func([]string, map[string]map[string]string) (step, error) {
	return noArgs(func(v any) (any, error) { return f(text(v)), nil })
}

// functions is the fixed table of template functions (never modified).
var functions = map[string]function{
	"datetime": {0, 0, noArgs(func(v any) (any, error) { return formatTime(v, "2006-01-02 15:04:05") })},
	"date": {0, 1, func(a []string, _ map[string]map[string]string) (step, error) {
		layout := "2006-01-02"
		if len(a) == 1 {
			layout = goLayout(a[0])
		}
		return func(v any) (any, error) { return formatTime(v, layout) }, nil
	}},
	"trim":  {0, 0, textStep(strings.TrimSpace)},
	"upper": {0, 0, textStep(strings.ToUpper)},
	"lower": {0, 0, textStep(strings.ToLower)},
	"default": {1, 1, func(a []string, _ map[string]map[string]string) (step, error) {
		return func(v any) (any, error) {
			if strings.TrimSpace(text(v)) == "" {
				return a[0], nil
			}
			return v, nil
		}, nil
	}},
	"substring": {1, 2, func(a []string, _ map[string]map[string]string) (step, error) {
		start, err := strconv.Atoi(a[0])
		if err != nil || start < 0 {
			return nil, fmt.Errorf("substring: start %q is not a whole number ≥ 0", a[0])
		}
		length := -1
		if len(a) == 2 {
			if length, err = strconv.Atoi(a[1]); err != nil || length < 0 {
				return nil, fmt.Errorf("substring: length %q is not a whole number ≥ 0", a[1])
			}
		}
		return func(v any) (any, error) {
			r := []rune(text(v))
			if start >= len(r) {
				return "", nil
			}
			end := len(r)
			if length >= 0 {
				end = min(start+length, len(r))
			}
			return string(r[start:end]), nil
		}, nil
	}},
	"map": {1, 1, func(a []string, maps map[string]map[string]string) (step, error) {
		m, ok := maps[a[0]]
		if !ok {
			return nil, fmt.Errorf("unknown value map %q", a[0])
		}
		return func(v any) (any, error) {
			if out, ok := m[text(v)]; ok {
				return out, nil
			}
			if out, ok := m["*"]; ok {
				return out, nil
			}
			return v, nil
		}, nil
	}},
}

// goLayout converts the vendors' yyyy-MM-dd HH:mm:ss layouts to Go's reference-time layouts. A Go
// layout ("2006-01-02") has none of these letters and passes through unchanged.
func goLayout(s string) string {
	return strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000").Replace(s)
}

// gmt8 is the vendors' zone (China Standard Time), fixed so no tzdata is needed.
var gmt8 = time.FixedZone("GMT+8", 8*3600)

// sourceLayouts are the date/time forms the vendors send (Kingdee 2024-04-11T23:52:02.583 without a
// zone, Zhilong 2024-04-11 23:52:02), read as GMT+8.
var sourceLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02"}

func formatTime(v any, layout string) (any, error) {
	switch t := v.(type) {
	case nil:
		return "", nil
	case time.Time:
		if t.IsZero() {
			return "", nil
		}
		return t.In(gmt8).Format(layout), nil
	case string:
		s := strings.TrimSpace(t)
		if s == "" {
			return "", nil
		}
		for _, l := range sourceLayouts {
			if pt, err := time.ParseInLocation(l, s, gmt8); err == nil {
				return pt.Format(layout), nil
			}
		}
		if pt, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return pt.In(gmt8).Format(layout), nil
		}
		return nil, fmt.Errorf("%q is not a date/time", t)
	default:
		return nil, fmt.Errorf("%v (%T) is not a date/time", v, v)
	}
}

// text renders a value as the vendors expect text: whole numbers without a fraction or exponent,
// times as yyyy-MM-dd HH:mm:ss in GMT+8, nil as "".
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.In(gmt8).Format("2006-01-02 15:04:05")
	case bool:
		return strconv.FormatBool(x)
	default:
		return fmt.Sprint(x)
	}
}
