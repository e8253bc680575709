package vendor

import (
	"strings"
	"testing"
	"time"
)

// parseAllLayouts is the parser the Kingdee and Zhilong clients each had before ParseDateTime: every
// layout tried in turn. ParseDateTime must read every string as it did.
func parseAllLayouts(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, true
	}
	for _, layout := range []string{DateTimeLayout, "2006-01-02T15:04:05.999999999", DateTimeLayout + ".999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, gmt8); err == nil {
			return t, true
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2024-04-11 23:52:02", time.Date(2024, 4, 11, 23, 52, 2, 0, gmt8)},
		{" 2024-04-11 23:52:02\n", time.Date(2024, 4, 11, 23, 52, 2, 0, gmt8)},
		{"2024-04-11 23:52:02.5", time.Date(2024, 4, 11, 23, 52, 2, 500e6, gmt8)},
		{"2024-04-11T23:52:02.583", time.Date(2024, 4, 11, 23, 52, 2, 583e6, gmt8)},
		{"2024-04-11T23:52:02", time.Date(2024, 4, 11, 23, 52, 2, 0, gmt8)},
		{"2024-04-11", time.Date(2024, 4, 11, 0, 0, 0, 0, gmt8)},
		{"2024-04-11T15:52:02Z", time.Date(2024, 4, 11, 15, 52, 2, 0, time.UTC)},
		{"2024-04-11T23:52:02.1+08:00", time.Date(2024, 4, 11, 23, 52, 2, 100e6, gmt8)},
		{"", time.Time{}},
		{"   ", time.Time{}},
	}
	for _, tt := range tests {
		got, err := ParseDateTime(tt.in)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseDateTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"2024-04-11 23:52", "2024/04/11", "yesterday", "2024-04-11 23:52:02+08:00", "2024-13-01"} {
		if got, err := ParseDateTime(bad); err == nil || !strings.Contains(err.Error(), "unparseable datetime") {
			t.Errorf("ParseDateTime(%q) = %v, %v; want an unparseable datetime error", bad, got, err)
		}
	}
}

// FuzzParseDateTimeMatchesAllLayouts pins ParseDateTime, which picks one layout by the separator, to
// the try-every-layout parser it replaced: same instant, same zone offset, same failures.
func FuzzParseDateTimeMatchesAllLayouts(f *testing.F) {
	for _, s := range []string{"2024-04-11 23:52:02", "2024-04-11T23:52:02.583", "2024-04-11", "2024-04-11T15:52:02Z",
		"2024-04-11 23:52:02.123456789", "2024-04-11T23:52:02+08:00", " 2024-04-11 ", "2024-04-11x23:52:02", "", "2024-04-11 23:52:02Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, ok := parseAllLayouts(s)
		got, err := ParseDateTime(s)
		if (err == nil) != ok {
			t.Fatalf("ParseDateTime(%q) error %v; the old parser accepted it: %v", s, err, ok)
		}
		if !ok {
			return
		}
		_, wantOff := want.Zone()
		_, gotOff := got.Zone()
		if !got.Equal(want) || gotOff != wantOff {
			t.Fatalf("ParseDateTime(%q) = %v, the old parser %v", s, got, want)
		}
	})
}
