package main

import "testing"

func TestTargetsMetByBound(t *testing.T) {
	var ts targets
	ts.atLeast("share", 85, "%", 85)
	ts.atLeast("share low", 84.9, "%", 85)
	ts.atMost("bytes", 500, "B", 500)
	ts.atMost("bytes high", 501, "B", 500)
	ts.list = append(ts.list, target{figure: "missing", limit: 1})
	want := []bool{true, false, true, false, false}
	for i, tg := range ts.list {
		if tg.met() != want[i] {
			t.Errorf("%s: met = %v, want %v", tg.figure, tg.met(), want[i])
		}
	}
}
