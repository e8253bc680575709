package ctl

import (
	"bytes"
	"runtime"
	"testing"
)

// TestBeginKeepsOnlyTheLoggedPrefix: a logged request keeps the first 2048 bytes of its body, and
// only those: the log of the last N requests must not hold N whole BatchSave bodies of hundreds of
// kilobytes (a string sliced from a copy of the whole body would keep the whole copy alive).
func TestBeginKeepsOnlyTheLoggedPrefix(t *testing.T) {
	s := NewStats(10)
	body := bytes.Repeat([]byte("x"), 1<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	e := s.Begin("BatchSave", body)
	runtime.ReadMemStats(&after)
	if len(e.Request) != 2048 || e.Request != string(body[:2048]) {
		t.Fatalf("logged %d bytes, want the body's first 2048", len(e.Request))
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<10 {
		t.Fatalf("Begin allocated %d bytes for a 1 MiB body: it copies more than what it logs", n)
	}
	if got := s.Counts()["BatchSave"]; got != 1 {
		t.Fatalf("count = %d", got)
	}
}
