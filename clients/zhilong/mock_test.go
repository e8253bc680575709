package zhilong

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/mocks/mockctl"
	mock "github.com/syncgate/syncgate/mocks/zhilong"
)

func TestAgainstMock(t *testing.T) {
	m := mock.New(mock.DefaultConfig())
	m.Seed(37, 1)
	srv := httptest.NewServer(m)
	defer srv.Close()
	mc := mock.DefaultConfig()
	c, err := New(Config{BaseURL: srv.URL, Username: mc.Username, Password: mc.Password,
		Transport: vendor.Transport{Timeout: 300 * time.Millisecond, MaxAttempts: 5, MaxElapsed: 5 * time.Second,
			BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctl := mockctl.New(srv.URL, nil)
	ctx := context.Background()
	w := Window{Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Now()}
	count := func() int {
		n := 0
		for a, err := range c.Agents(ctx, w, 10) {
			if err != nil {
				t.Fatal(err)
			}
			if a.AgentID == "" {
				t.Fatal("agent without id")
			}
			n++
		}
		return n
	}
	if n := count(); n != 37 {
		t.Fatalf("iterated %d agents, want 37 (stop on total, past-the-end pages repeat the last)", n)
	}
	for _, f := range []mockctl.Fault{
		{Endpoint: "agentInfo/list", Kind: "token_expiry", Count: 1},
		{Endpoint: "agentInfo/list", Kind: "rate_limit", Count: 2},
		{Endpoint: "agentInfo/list", Kind: "http502", Count: 2},
		{Endpoint: "agentInfo/list", Kind: "drop", Count: 1},
		{Endpoint: "agentInfo/list", Kind: "hang", Count: 1},
		{Endpoint: "agentInfo/list", Kind: "truncated", Count: 1},
		{Endpoint: "agentInfo/list", Kind: "html", Count: 1},
	} {
		if err := ctl.SetFault(ctx, f); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 37 {
			t.Fatalf("%s: %d agents", f.Kind, n)
		}
	}
	bad, _ := New(Config{BaseURL: srv.URL, Username: mc.Username, Password: "wrong", Transport: vendor.Transport{MaxAttempts: 2}})
	if _, _, err := bad.Page(ctx, w, 1, 10); err == nil {
		t.Fatal("wrong password accepted")
	}
}

// TestAdaptiveSlowsOnThrottling: Zhilong's 访问过于频繁 is retried to success and slows the adaptive
// limiter (the default mode) down.
func TestAdaptiveSlowsOnThrottling(t *testing.T) {
	m := mock.New(mock.DefaultConfig())
	m.Seed(5, 1)
	srv := httptest.NewServer(m)
	defer srv.Close()
	mc := mock.DefaultConfig()
	c, err := New(Config{BaseURL: srv.URL, Username: mc.Username, Password: mc.Password,
		Transport: vendor.Transport{Timeout: 300 * time.Millisecond, MaxAttempts: 5, MaxElapsed: 5 * time.Second,
			BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := c.vc.Rate()
	if err := mockctl.New(srv.URL, nil).SetFault(ctx, mockctl.Fault{Endpoint: "agentInfo/list", Kind: "rate_limit", Count: 3}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range c.Agents(ctx, Window{Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Now()}, 10) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("%d agents, want 5", n)
	}
	if d := c.vc.Adaptive().Decreases(); d != 3 || c.vc.Rate() >= before {
		t.Fatalf("%d decreases, rate %v (was %v); want 3 and lower", d, c.vc.Rate(), before)
	}
}
