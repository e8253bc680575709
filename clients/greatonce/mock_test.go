package greatonce

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

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
