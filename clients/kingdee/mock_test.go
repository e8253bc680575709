package kingdee

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
	mock "github.com/syncgate/syncgate/mocks/kingdee"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

// Against the mock vendor: happy paths in both login modes, and recovery from each fault it injects.
func mockClient(t testing.TB, sign bool) (*Client, *mockctl.Client) {
	t.Helper()
	m := mock.New(mock.DefaultConfig())
	m.Seed(50, 1)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	mc := mock.DefaultConfig()
	cfg := Config{BaseURL: srv.URL + "/k3cloud/", AcctID: mc.AcctID, Username: mc.Username, Password: mc.Password,
		Transport: vendor.Transport{Timeout: 300 * time.Millisecond, MaxAttempts: 5, MaxElapsed: 5 * time.Second, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}}
	if sign {
		cfg.AppID, cfg.AppSecret = mc.AppID, mc.AppSecret
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, mockctl.New(srv.URL, nil)
}

func TestAgainstMockHappyPaths(t *testing.T) {
	for _, sign := range []bool{false, true} {
		c, _ := mockClient(t, sign)
		ctx := context.Background()
		n := 0
		for row, err := range c.Rows(ctx, Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID", "FNumber", "FModifyDate"},
			OrderBy: "FModifyDate ASC, FCUSTID ASC", Limit: 7}) {
			if err != nil {
				t.Fatalf("sign=%v: %v", sign, err)
			}
			if _, err := row.Time("FModifyDate"); err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != 50 {
			t.Fatalf("sign=%v: streamed %d rows, want 50", sign, n)
		}
		res, err := c.BatchSave(ctx, SaveRequest{FormID: "BD_Customer", IsAutoSubmitAndAudit: true, Model: []map[string]any{
			{"FCUSTID": 0, "FName": "甲", "FNumber": ""}, {"FCUSTID": 0, "FName": "", "FNumber": ""}}})
		if err != nil || len(res.Items) != 2 || res.Items[0].Err != nil || res.Items[0].ID == 0 || res.Items[1].Err == nil || !vendor.IsPermanent(res.Items[1].Err) {
			t.Fatalf("sign=%v: batch %+v %v", sign, res, err)
		}
	}
}

func TestAgainstMockFaults(t *testing.T) {
	ctx := context.Background()
	q := Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID"}, Limit: 5}
	for _, f := range []mockctl.Fault{
		{Endpoint: "ExecuteBillQuery", Kind: "http500", Count: 2},
		{Endpoint: "ExecuteBillQuery", Kind: "http502", Count: 2},
		{Endpoint: "ExecuteBillQuery", Kind: "hang", Count: 1},
		{Endpoint: "ExecuteBillQuery", Kind: "drop", Count: 2},
		{Endpoint: "ExecuteBillQuery", Kind: "truncated", Count: 2},
		{Endpoint: "ExecuteBillQuery", Kind: "html", Count: 2},
		{Endpoint: "ExecuteBillQuery", Kind: "lock_conflict", Count: 2},
		{Endpoint: "ExecuteBillQuery", Kind: "session_lost", Count: 1},
		{Endpoint: "ExecuteBillQuery", Kind: "latency", Count: 1, LatencyMS: 50},
		{Endpoint: "*", Kind: "session_lost", After: 2},
	} {
		c, ctl := mockClient(t, false)
		if _, err := c.QueryPage(ctx, q); err != nil { // logs in
			t.Fatal(err)
		}
		if err := ctl.SetFault(ctx, f); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			rows, err := c.QueryPage(ctx, q)
			if err != nil || len(rows) != 5 {
				t.Fatalf("%s (call %d): %v", f.Kind, i, err)
			}
		}
		counts, _ := ctl.Counts(ctx)
		if counts["ExecuteBillQuery"] <= 5 && f.Kind != "latency" {
			t.Fatalf("%s: the fault never fired (%v)", f.Kind, counts)
		}
	}
	// Permanent: an unknown field is surfaced, not retried.
	c, ctl := mockClient(t, false)
	_, err := c.QueryPage(ctx, Query{FormID: "BD_Customer", FieldKeys: []string{"FNope"}})
	counts, _ := ctl.Counts(ctx)
	if err == nil || counts["ExecuteBillQuery"] != 1 {
		t.Fatalf("unknown field: %v after %d calls", err, counts["ExecuteBillQuery"])
	}
}

// TestAdaptiveSlowsOnCallLimit: Kingdee's call-limit answer (MsgCode 14) is retried to success and
// slows the adaptive limiter (the default mode, here unpaced until then) down, once per answer.
func TestAdaptiveSlowsOnCallLimit(t *testing.T) {
	ctx := context.Background()
	c, ctl := mockClient(t, false)
	q := Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID"}, Limit: 5}
	if _, err := c.QueryPage(ctx, q); err != nil { // logs in
		t.Fatal(err)
	}
	before := c.vc.Rate()
	if err := ctl.SetFault(ctx, mockctl.Fault{Endpoint: "ExecuteBillQuery", Kind: "rate_limit", Count: 2}); err != nil {
		t.Fatal(err)
	}
	if rows, err := c.QueryPage(ctx, q); err != nil || len(rows) != 5 {
		t.Fatalf("after the call limit: %d rows, %v", len(rows), err)
	}
	if got := c.vc.Rate(); !(got < before) {
		t.Fatalf("rate %v after two call-limit answers, was %v", got, before)
	}
	if n := c.vc.Adaptive().Decreases(); n != 2 {
		t.Fatalf("%d decreases, want 2", n)
	}
}
