package engine

import (
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/store"
)

func TestMergeAttemptsKeepsEveryAttemptThatSaysMore(t *testing.T) {
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	const op = "greatonce.distributor.single.sync"
	call := func(key string, attempt int, outcome string) store.Record {
		return store.Record{SourceKey: key, Action: "call", Attempt: attempt, Vendor: "greatonce", Operation: op,
			Request: `{"k":"` + key + `"}`, Response: `{"code":"0"}`, Outcome: outcome, At: at}
	}
	done := func(key, outcome string) store.Record {
		return store.Record{SourceKey: key, TargetKey: "T" + key, Action: "add", Operation: op, Request: `{"k":"` + key + `"}`, Outcome: outcome}
	}
	attempts := []store.Record{
		{Action: "call", Attempt: 1, Vendor: "kingdee", Operation: "ExecuteBillQuery", Outcome: "ok"}, // for the page: kept
		call("a", 1, "ok"),        // one clean attempt: merged
		call("b", 1, "transient"), // retried: both kept
		call("b", 2, "ok"),
		call("c", 1, "permanent"), // failed: kept
		call("d", 1, "ok"),        // its outcome is not ok (none here): kept
	}
	outcomes := []store.Record{done("a", "ok"), done("b", "ok"), done("c", "permanent"), done("e", "skipped")}
	got := mergeAttempts(attempts, outcomes)
	if len(got) != len(attempts)+len(outcomes)-1 {
		t.Fatalf("%d rows, want %d (only a's attempt merged): %+v", len(got), len(attempts)+len(outcomes)-1, got)
	}
	var a store.Record
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
