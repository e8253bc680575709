package greatonce

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/syncgate/syncgate/mocks/mockctl"
)

// TestSetRateWhileServing changes the rate limit while calls are answered. SetRate once replaced the
// limiter without synchronisation while process read it: run with -race, this test failed.
func TestSetRateWhileServing(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RatePerSecond = 1000
	s := New(cfg)
	srv := httptest.NewServer(s)
	defer srv.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20 {
			s.SetRate(float64(i % 3 * 1000))
		}
	}()
	for i := range 20 {
		body := `{"actionType":"add","distributorCode":"S` + strconv.Itoa(i) + `","distributorName":"x"}`
		if out := call(t, srv.URL, cfg, time.Now(), MethodDistributorSync, body, nil); out["flag"] == nil {
			t.Fatalf("answer without flag: %v", out)
		}
	}
	<-done
	s.SetRate(0)
	if out := call(t, srv.URL, cfg, time.Now(), MethodDistributorSync, `{"actionType":"add","distributorCode":"LAST","distributorName":"x"}`, nil); out["code"] != "0" {
		t.Fatalf("unlimited call: %v", out)
	}
}

// A distributor sync under commit_delay / commit_drop is committed although the client never gets
// the answer; a retried add then meets 分销商编码已存在. invalid_utf8 answers 成功 as invalid UTF-8.
func TestAnswerFaultsOnDistributorSync(t *testing.T) {
	cfg := DefaultConfig()
	for _, f := range []mockctl.Fault{
		{Kind: mockctl.KindCommitDelay, Count: 1},
		{Kind: mockctl.KindCommitDelay, LatencyMS: 60_000, Count: 1},
		{Kind: mockctl.KindCommitDrop, Count: 1},
	} {
		s := New(cfg)
		srv := httptest.NewServer(s)
		f.Endpoint = MethodDistributorSync
		if err := mockctl.New(srv.URL, nil).SetFault(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		body := `{"actionType":"add","distributorCode":"D1","distributorName":"分销商一"}`
		p := url.Values{"appKey": {cfg.AppKey}, "customerId": {cfg.CustomerID}, "method": {MethodDistributorSync},
			"timestamp": {time.Now().In(gmt8).Format("2006-01-02 15:04:05")}}
		p.Set("sign", Sign(cfg.Secret, p, []byte(body)))
		hc := &http.Client{Timeout: time.Second}
		resp, err := hc.Post(srv.URL+"/api/api.do?"+p.Encode(), "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%+v: answered %s", f, resp.Status)
		}
		if d := s.Distributors(); len(d) != 1 || d[0].DistributorCode != "D1" {
			srv.Close()
			t.Fatalf("%+v: distributors after the unanswered call: %+v", f, d)
		}
		if out := call(t, srv.URL, cfg, time.Now(), MethodDistributorSync, body, nil); out["message"] != "分销商编码已存在" {
			t.Errorf("%+v: retried add: %v", f, out)
		}
		srv.Close()
	}

	s := New(cfg)
	srv := httptest.NewServer(s)
	defer srv.Close()
	if err := mockctl.New(srv.URL, nil).SetFault(context.Background(), mockctl.Fault{Endpoint: MethodDistributorSync, Kind: mockctl.KindInvalidUTF8, Count: 1}); err != nil {
		t.Fatal(err)
	}
	body := `{"actionType":"add","distributorCode":"D2","distributorName":"分销商二"}`
	p := url.Values{"appKey": {cfg.AppKey}, "customerId": {cfg.CustomerID}, "method": {MethodDistributorSync},
		"timestamp": {time.Now().In(gmt8).Format("2006-01-02 15:04:05")}}
	p.Set("sign", Sign(cfg.Secret, p, []byte(body)))
	resp, err := http.Post(srv.URL+"/api/api.do?"+p.Encode(), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if utf8.Valid(b) || !json.Valid(b) || !bytes.Contains(b, []byte(`"code":"0"`)) || len(s.Distributors()) != 1 {
		t.Fatalf("invalid_utf8 answer %q", b)
	}
}
