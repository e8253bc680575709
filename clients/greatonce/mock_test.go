package greatonce

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/syncgate/syncgate/clients/vendor"
	mock "github.com/syncgate/syncgate/mocks/greatonce"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

func TestAgainstMock(t *testing.T) {
	for _, with429 := range []bool{false, true} {
		mc := mock.DefaultConfig()
		mc.RateLimit429 = with429
		m := mock.New(mc)
		srv := httptest.NewServer(m)
		c, err := New(Config{BaseURL: srv.URL, AppKey: mc.AppKey, Secret: mc.Secret, CustomerID: mc.CustomerID,
			Transport: vendor.Transport{Timeout: 300 * time.Millisecond, MaxAttempts: 5, MaxElapsed: 5 * time.Second,
				BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		ctl := mockctl.New(srv.URL, nil)
		ctx := context.Background()
		d := Distributor{DistributorCode: "D1", DistributorName: "分销商", Address: "上海"}
		if _, err := c.DistributorSync(ctx, ActionAdd, d); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DistributorSync(ctx, ActionAdd, d); !IsAlreadyExists(err) {
			t.Fatalf("second add: %v", err)
		}
		if _, err := c.DistributorSync(ctx, ActionUpdate, Distributor{DistributorCode: "D2", DistributorName: "x"}); !IsNotFound(err) {
			t.Fatalf("update of a missing one: %v", err)
		}
		for _, f := range []mockctl.Fault{
			{Endpoint: MethodDistributorSync, Kind: "rate_limit", Count: 2},
			{Endpoint: MethodDistributorSync, Kind: "http500", Count: 2},
			{Endpoint: MethodDistributorSync, Kind: "drop", Count: 1},
			{Endpoint: MethodDistributorSync, Kind: "hang", Count: 1},
			{Endpoint: MethodDistributorSync, Kind: "truncated", Count: 1},
			{Endpoint: MethodDistributorSync, Kind: "html", Count: 1},
		} {
			if err := ctl.SetFault(ctx, f); err != nil {
				t.Fatal(err)
			}
			if _, err := c.DistributorSync(ctx, ActionUpdate, d); err != nil {
				t.Fatalf("429=%v %s: %v", with429, f.Kind, err)
			}
		}
		dists := m.Distributors()
		if len(dists) != 1 || dists[0].Updates < 6 {
			t.Fatalf("state %+v", dists)
		}
		srv.Close()
	}
}

// TestAdaptiveFollowsQuota runs the client, adaptive by default and never told the quota, against
// the mock's quota: the delivered rate after slow start is close to the quota with few calls
// throttled, no call fails, and when the quota rises the rate follows it up.
func TestAdaptiveFollowsQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for a few seconds")
	}
	mc := mock.DefaultConfig()
	mc.RatePerSecond, mc.Burst = 200, 10
	m := mock.New(mc)
	srv := httptest.NewServer(m)
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, AppKey: mc.AppKey, Secret: mc.Secret, CustomerID: mc.CustomerID,
		Transport: vendor.Transport{Timeout: 2 * time.Second, MaxAttempts: 10, MaxElapsed: 30 * time.Second,
			BackoffInitial: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	next := 0
	// run sends n adds from 8 goroutines and returns the wall time and the mock's counts over them.
	run := func(n int) (time.Duration, mock.Quota) {
		before := m.Quota()
		start := time.Now()
		codes := make(chan string, n)
		for i := range n {
			codes <- fmt.Sprintf("D%06d", next+i)
		}
		next += n
		close(codes)
		var g errgroup.Group
		for range 8 {
			g.Go(func() error {
				for code := range codes {
					if _, err := c.DistributorSync(ctx, ActionAdd, Distributor{DistributorCode: code, DistributorName: "x"}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		after := m.Quota()
		return time.Since(start), mock.Quota{Accepted: after.Accepted - before.Accepted, Throttled: after.Throttled - before.Throttled}
	}
	run(200) // slow start from the initial rate
	d, q := run(500)
	got := float64(q.Accepted) / d.Seconds()
	share := float64(q.Throttled) / float64(q.Accepted+q.Throttled)
	t.Logf("quota 200/s: %.0f/s delivered, %.1f%% of calls throttled, rate %.0f", got, 100*share, c.vc.Rate())
	if got < 0.8*200 || got > 1.1*200 || share > 0.05 {
		t.Errorf("at a quota of 200/s: %.0f/s delivered, %.1f%% throttled", got, 100*share)
	}
	m.SetQuota(600, 30)
	run(600)
	d, q = run(900)
	got = float64(q.Accepted) / d.Seconds()
	t.Logf("quota 600/s: %.0f/s delivered, %d throttled, rate %.0f", got, q.Throttled, c.vc.Rate())
	if got < 0.7*600 {
		t.Errorf("after the quota rose to 600/s: %.0f/s delivered", got)
	}
	if n := len(m.Distributors()); n != next {
		t.Errorf("%d distributors, want %d", n, next)
	}
}
