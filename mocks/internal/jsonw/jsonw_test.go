package jsonw

import (
	"encoding/json"
	"testing"
)

var cases = []string{"", " ", "plain", "中文 😀", "a<b>&c", `q"b\s`, "\x00\x01\x08\x0c\x1f\x7f\t\n\r", "l\u2028s\u2029",
	"bad\xffutf8\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "trunc\xe4\xb8", "'single'", "\u00e9\u0301"}

func TestStringMatchesEncodingJSON(t *testing.T) {
	all := make([]byte, 0, 256)
	for b := range 256 {
		all = append(all, byte(b))
	}
	for _, s := range append(cases, string(all)) {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func TestValueMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{nil, "x<", int64(-12), int64(900001), 7, true, false, 1.5, map[string]any{"b": 1, "a": []any{}}} {
		want, _ := json.Marshal(v)
		if got := Value(nil, v); string(got) != string(want) {
			t.Errorf("%v: got %s, want %s", v, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	})
}
