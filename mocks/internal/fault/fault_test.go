package fault

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// answerServer serves one endpoint that "commits" (counts) the call and then answers body through
// Hold under rule.
func answerServer(t *testing.T, rule Rule, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var committed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw, finish := Hold(w, r, rule)
		defer finish()
		committed.Add(1)
		hw.Header().Set("Content-Type", "application/json")
		hw.WriteHeader(http.StatusOK)
		io.WriteString(hw, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &committed
}

func TestHoldCommitsThenLosesTheAnswer(t *testing.T) {
	for _, rule := range []Rule{
		{Kind: CommitDelay},                    // never answers
		{Kind: CommitDelay, LatencyMS: 60_000}, // answers long after the client's timeout
		{Kind: CommitDrop},
	} {
		srv, committed := answerServer(t, rule, `{"ok":true}`)
		hc := &http.Client{Timeout: time.Second}
		resp, err := hc.Post(srv.URL, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%+v: answered %s", rule, resp.Status)
		}
		if rule.Kind == CommitDelay {
			var ne interface{ Timeout() bool }
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("%+v: %v, want a client timeout", rule, err)
			}
		}
		srv.Close() // waits for the handler: the client leaving ends the delay
		if committed.Load() != 1 {
			t.Fatalf("%+v: %d commits, want 1", rule, committed.Load())
		}
	}
}

func TestHoldCommitDelayAnswersAfterTheDelay(t *testing.T) {
	srv, committed := answerServer(t, Rule{Kind: CommitDelay, LatencyMS: 50}, `{"ok":true}`)
	start := time.Now()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != `{"ok":true}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s %q %v", resp.Status, b, resp.Header)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("answered after %s, before the 50ms delay", d)
	}
	if committed.Load() != 1 {
		t.Fatalf("%d commits", committed.Load())
	}
}

func TestHoldInvalidUTF8KeepsJSONSyntax(t *testing.T) {
	body := `{"message":"成功","code":"0","name":"植隆 Ltd"}`
	srv, _ := answerServer(t, Rule{Kind: InvalidUTF8}, body)
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if len(b) != len(body) || utf8.Valid(b) {
		t.Fatalf("answer %q is valid UTF-8 or changed length", b)
	}
	if !strings.HasPrefix(string(b), `{"message":"`+"\xff") || !strings.HasSuffix(string(b), ` Ltd"}`) || !strings.Contains(string(b), `"code":"0"`) {
		t.Fatalf("ASCII parts changed: %q", b)
	}
	// An ASCII-only answer is unchanged.
	srv2, _ := answerServer(t, Rule{Kind: InvalidUTF8}, `{"ok":true}`)
	resp2, err := http.Post(srv2.URL, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if b2, _ := io.ReadAll(resp2.Body); string(b2) != `{"ok":true}` {
		t.Fatalf("ASCII answer changed: %q", b2)
	}
}

func TestHoldPassesOtherKindsThrough(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/", nil)
	for _, r := range []Rule{{}, {Kind: Latency}, {Kind: HTTP500}} {
		w, finish := Hold(rec, req, r)
		if w != http.ResponseWriter(rec) {
			t.Fatalf("%+v: wrapped the writer", r)
		}
		finish()
	}
	if err := New(1).Set(Rule{Endpoint: "x", Kind: CommitDrop, Count: 1}); err != nil {
		t.Fatalf("answer kinds are accepted: %v", err)
	}
}
