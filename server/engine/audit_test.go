package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/syncgate/syncgate/server/storage"
)

func TestMergeAttemptsKeepsEveryAttemptThatSaysMore(t *testing.T) {
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	const op = "greatonce.distributor.single.sync"
	call := func(key string, attempt int, outcome string) storage.Record {
		return storage.Record{SourceKey: key, Action: "call", Attempt: attempt, Vendor: "greatonce", Operation: op,
			Request: `{"k":"` + key + `"}`, Response: `{"code":"0"}`, Outcome: outcome, At: at}
	}
	done := func(key, outcome string) storage.Record {
		return storage.Record{SourceKey: key, TargetKey: "T" + key, Action: "add", Operation: op, Request: `{"k":"` + key + `"}`, Outcome: outcome}
	}
	attempts := []storage.Record{
		{Action: "call", Attempt: 1, Vendor: "kingdee", Operation: "ExecuteBillQuery", Outcome: "ok"}, // for the page: kept
		call("a", 1, "ok"),        // one clean attempt: merged
		call("b", 1, "transient"), // retried: both kept
		call("b", 2, "ok"),
		call("c", 1, "permanent"), // failed: kept
		call("d", 1, "ok"),        // its outcome is not ok (none here): kept
	}
	outcomes := []storage.Record{done("a", "ok"), done("b", "ok"), done("c", "permanent"), done("e", "skipped")}
	got := mergeAttempts(attempts, outcomes)
	if len(got) != len(attempts)+len(outcomes)-1 {
		t.Fatalf("%d rows, want %d (only a's attempt merged): %+v", len(got), len(attempts)+len(outcomes)-1, got)
	}
	var a storage.Record
	calls := map[string]int{}
	for _, r := range got {
		if r.Action == "call" {
			calls[r.SourceKey]++
		}
		if r.SourceKey == "a" {
			a = r
		}
	}
	if calls["a"] != 0 || calls["b"] != 2 || calls["c"] != 1 || calls["d"] != 1 || calls[""] != 1 {
		t.Fatalf("attempt rows left: %v", calls)
	}
	if a.Action != "add" || a.TargetKey != "Ta" || a.Attempt != 1 || a.Vendor != "greatonce" || a.Response != `{"code":"0"}` ||
		a.Request != `{"k":"a"}` || !a.At.Equal(at) || a.Outcome != "ok" {
		t.Fatalf("merged row %+v", a)
	}
}

// clip once cut a body at a byte count: a Chinese body split a character there, and the stored row
// (invalid UTF-8) could not be marshalled into GetRun's answer.
func TestClipCutsOnACharacterBoundary(t *testing.T) {
	body := []byte(`{"FName":"x` + strings.Repeat("植", maxAuditBody) + `"}`) // 植 is 3 bytes: 16384 = 11 + 3·5457 + 2
	if utf8.RuneStart(body[maxAuditBody]) {
		t.Fatal("the test body does not put a character across the limit")
	}
	got := clip(body)
	if !utf8.ValidString(got) {
		t.Fatalf("clipped body is invalid UTF-8: …%q", got[maxAuditBody-8:maxAuditBody+8])
	}
	kept, marker, ok := strings.Cut(got, "…[truncated")
	if !ok || len(kept) > maxAuditBody || len(kept) < maxAuditBody-utf8.UTFMax || !strings.HasPrefix(string(body), kept) {
		t.Fatalf("kept %d bytes (max %d), marker %q", len(kept), maxAuditBody, marker)
	}
	if want := fmt.Sprintf(": %d bytes in all]", len(body)); marker != want {
		t.Fatalf("marker %q, want %q", marker, want)
	}
	if short := `{"FName":"植隆"}`; clip([]byte(short)) != short {
		t.Fatalf("short body changed: %q", clip([]byte(short)))
	}
}

// A vendor answer with invalid UTF-8 is stored as valid text, U+FFFD in place of the bad bytes.
func TestClipStoresInvalidUTF8AsValidText(t *testing.T) {
	if got, want := clip([]byte("{\"message\":\"\xff\xfe功\"}")), "{\"message\":\"\uFFFD功\"}"; got != want {
		t.Fatalf("clip = %q, want %q", got, want)
	}
	// Over the limit, the replacement (3 bytes for 1) must not push the kept part past it.
	long := "\xff" + strings.Repeat("a", maxAuditBody)
	got := clip([]byte(long))
	kept, marker, _ := strings.Cut(got, "…[truncated")
	if !utf8.ValidString(got) || len(kept) > maxAuditBody || !strings.HasPrefix(kept, "\uFFFDaaa") ||
		marker != fmt.Sprintf(": %d bytes in all]", len(long)) {
		t.Fatalf("clip of a long invalid body: %d bytes kept, …%q", len(kept), got[len(got)-40:])
	}
}

// Every audit row a page commit writes is valid UTF-8, whatever the vendor sent: per-record rows
// (outcome bodies and errors) as well as attempts.
func TestMergeAttemptsWritesValidText(t *testing.T) {
	bad := "\xe6\xa4 \xff"
	attempts := []storage.Record{{Action: "call", Attempt: 1, Vendor: "kingdee", Operation: "BatchSave", Request: bad, Response: bad, Outcome: "transient", Error: bad}}
	outcomes := []storage.Record{{SourceKey: bad, TargetKey: bad, Action: "add", Operation: "BatchSave", Request: bad, Response: bad, Outcome: "permanent", Error: "kingdee: " + bad}}
	for _, r := range mergeAttempts(attempts, outcomes) {
		for _, s := range []string{r.SourceKey, r.TargetKey, r.Action, r.Vendor, r.Operation, r.Request, r.Response, r.Outcome, r.Error} {
			if !utf8.ValidString(s) {
				t.Fatalf("row %+v holds invalid UTF-8 %q", r, s)
			}
		}
		if r.Request != "\uFFFD \uFFFD" {
			t.Fatalf("request %q, want the bad bytes as U+FFFD", r.Request)
		}
	}
}
