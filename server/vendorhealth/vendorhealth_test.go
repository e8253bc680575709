package vendorhealth

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/greatonce"
	"github.com/syncgate/syncgate/clients/vendor"
	"github.com/syncgate/syncgate/clients/zhilong"
	gomock "github.com/syncgate/syncgate/mocks/greatonce"
	"github.com/syncgate/syncgate/mocks/mockctl"
	zlmock "github.com/syncgate/syncgate/mocks/zhilong"
)

func fastTransport(hook vendor.Hook) vendor.Transport {
	return vendor.Transport{Timeout: 2 * time.Second, MaxAttempts: 5, MaxElapsed: 10 * time.Second,
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond, Hook: hook}
}

func health(t *testing.T, tr *Tracker, name string) Health {
	t.Helper()
	for _, h := range tr.Snapshot() {
		if h.Vendor == name {
			return h
		}
	}
	t.Fatalf("no health for %s in %+v", name, tr.Snapshot())
	return Health{}
}

// A real Greatonce client against the mock: its throttling answers, HTTP 200 "访问过于频繁" and HTTP
// 429, count as throttled failures; the call that then succeeds is the last one, ok. A bad secret's
// failure is the last error, without the secret, the app key or the signature.
func TestGreatonceThrottlingIsCountedAndCredentialsNeverShow(t *testing.T) {
	for _, with429 := range []bool{false, true} {
		mc := gomock.DefaultConfig()
		mc.RateLimit429 = with429
		srv := httptest.NewServer(gomock.New(mc))
		defer srv.Close()
		tr := New(greatonce.VendorName, "kingdee", zhilong.VendorName)
		c, err := greatonce.New(greatonce.Config{BaseURL: srv.URL, AppKey: mc.AppKey, Secret: mc.Secret, CustomerID: mc.CustomerID,
			Transport: fastTransport(tr.Hook)})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := mockctl.New(srv.URL, nil).SetFault(ctx, mockctl.Fault{Endpoint: greatonce.MethodDistributorSync, Kind: "rate_limit", Count: 2}); err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		d := greatonce.Distributor{DistributorCode: "D1", DistributorName: "分销商", Address: "上海"}
		if _, err := c.DistributorSync(ctx, greatonce.ActionAdd, d); err != nil {
			t.Fatalf("429=%v: %v", with429, err)
		}
		h := health(t, tr, greatonce.VendorName)
		if h.Attempts != 3 || h.Failures != 2 || h.Throttled != 2 || h.LastThrottledAt.Before(before) {
			t.Fatalf("429=%v: health %+v, want 3 attempts, 2 failed and throttled", with429, h)
		}
		if !h.LastOK || h.LastError != "" || h.LastOperation != greatonce.MethodDistributorSync || h.LastCallAt.Before(h.LastThrottledAt) {
			t.Fatalf("429=%v: last attempt %+v, want the successful sync", with429, h)
		}
		if k := health(t, tr, "kingdee"); k.Attempts != 0 || !k.LastCallAt.IsZero() {
			t.Fatalf("kingdee was not called: %+v", k)
		}

		secret := "wrong-" + mc.Secret + "-s3cr3t"
		bad, err := greatonce.New(greatonce.Config{BaseURL: srv.URL, AppKey: mc.AppKey, Secret: secret, CustomerID: mc.CustomerID,
			Transport: fastTransport(tr.Hook)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.DistributorSync(ctx, greatonce.ActionUpdate, d); err == nil {
			t.Fatal("a bad secret was accepted")
		}
		h = health(t, tr, greatonce.VendorName)
		if h.LastOK || h.LastError == "" || h.Failures != 3 || h.Throttled != 2 {
			t.Fatalf("after a bad signature: %+v", h)
		}
		for _, s := range []string{secret, mc.AppKey, "sign=", "appKey"} {
			if strings.Contains(h.LastError, s) {
				t.Fatalf("last error %q shows %q", h.LastError, s)
			}
		}
	}
}

// A real Zhilong client against the mock: RuoYi's rate-limit answer (body code 500) is throttled, a
// server exception with the same code is not; a failed login's error never shows the password.
func TestZhilongThrottlingIsCountedAndThePasswordNeverShows(t *testing.T) {
	m := zlmock.New(zlmock.DefaultConfig())
	m.Seed(5, 1)
	srv := httptest.NewServer(m)
	defer srv.Close()
	mc := zlmock.DefaultConfig()
	tr := New(zhilong.VendorName)
	c, err := zhilong.New(zhilong.Config{BaseURL: srv.URL, Username: mc.Username, Password: mc.Password, Transport: fastTransport(tr.Hook)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ctl := mockctl.New(srv.URL, nil)
	if err := ctl.SetFault(ctx, mockctl.Fault{Endpoint: "agentInfo/list", Kind: "rate_limit", Count: 2}); err != nil {
		t.Fatal(err)
	}
	w := zhilong.Window{Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Now()}
	n := 0
	for _, err := range c.Agents(ctx, w, 10) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	h := health(t, tr, zhilong.VendorName)
	// login, two throttled pages, the page answered.
	if n != 5 || h.Attempts != 4 || h.Failures != 2 || h.Throttled != 2 || !h.LastOK || h.LastOperation != zhilong.OpList {
		t.Fatalf("%d agents, health %+v", n, h)
	}
	if err := ctl.SetFault(ctx, mockctl.Fault{Endpoint: "agentInfo/list", Kind: "http500", Count: 1}); err != nil {
		t.Fatal(err)
	}
	for _, err := range c.Agents(ctx, w, 10) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h := health(t, tr, zhilong.VendorName); h.Failures != 3 || h.Throttled != 2 {
		t.Fatalf("an HTTP 500 counted as throttled: %+v", h)
	}

	password := "not-" + mc.Password + "-pw"
	bad, err := zhilong.New(zhilong.Config{BaseURL: srv.URL, Username: mc.Username, Password: password, Transport: fastTransport(tr.Hook)})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Login(ctx); err == nil {
		t.Fatal("a wrong password logged in")
	}
	h = health(t, tr, zhilong.VendorName)
	if h.LastOK || h.LastOperation != zhilong.OpLogin || h.LastError == "" || strings.Contains(h.LastError, password) {
		t.Fatalf("after a failed login: %+v", h)
	}
}

// Attempts reported concurrently are all counted, and the last one is the latest sent.
func TestTrackerIsSafeForConcurrentUse(t *testing.T) {
	tr := New()
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	throttled := &vendor.Error{Vendor: "greatonce", Kind: vendor.Transient, Throttled: true, Message: "访问过于频繁"}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			at := vendor.Attempt{Vendor: "greatonce", Operation: "op", Start: base.Add(time.Duration(i) * time.Second)}
			if i%4 == 0 {
				at.Err = throttled
			}
			if i == 99 {
				at.Err = errors.New(strings.Repeat("长", 1000))
			}
			tr.Hook(context.Background(), at)
		})
	}
	wg.Wait()
	h := health(t, tr, "greatonce")
	if h.Attempts != 100 || h.Failures != 26 || h.Throttled != 25 || !h.LastCallAt.Equal(base.Add(99*time.Second)) || h.LastOK ||
		!h.LastThrottledAt.Equal(base.Add(96*time.Second)) || len(h.LastError) > maxErrorText+len("…") || !strings.HasSuffix(h.LastError, "…") {
		t.Fatalf("health %+v", h)
	}
}
