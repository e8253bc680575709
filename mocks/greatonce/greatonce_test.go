package greatonce

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignVector(t *testing.T) {
	params := url.Values{"appKey": {"testkey"}, "customerId": {"C001"}, "format": {"json"},
		"method": {"greatonce.distributor.single.sync"}, "sign_method": {"md5"}, "timestamp": {"2024-01-01 12:00:00"}}
	body := `{"actionType":"add","distributorCode":"KH0001","distributorName":"Demo","distributorCompanyName":"Demo Co","mobile":"13800000000","contact":"Zhang","address":"Shanghai","balance_deduct_type":"1","distributorLevelName":"A"}`
	if got := Sign("testsecret", params, []byte(body)); got != "F8E16E940F9D48243AD9DB4B04EC5DC7" {
		t.Fatalf("sign = %s", got)
	}
}

func call(t *testing.T, base string, cfg Config, now time.Time, method, body string, tamper func(url.Values)) map[string]any {
	t.Helper()
	p := url.Values{"appKey": {cfg.AppKey}, "customerId": {cfg.CustomerID}, "format": {"json"}, "method": {method},
		"sign_method": {"md5"}, "timestamp": {now.In(gmt8).Format("2006-01-02 15:04:05")}}
	p.Set("sign", Sign(cfg.Secret, p, []byte(body)))
	if tamper != nil {
		tamper(p)
	}
	resp, err := http.Post(base+"/api/api.do?"+p.Encode(), "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	return out
}

func TestDistributorSyncSemanticsAndErrors(t *testing.T) {
	cfg := DefaultConfig()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	s := New(cfg)
	srv := httptest.NewServer(s)
	defer srv.Close()
	add := `{"actionType":"add","distributorCode":"D1","distributorName":"分销商一"}`
	upd := `{"actionType":"update","distributorCode":"D1","distributorName":"分销商一改"}`
	tests := []struct {
		name, body string
		tamper     func(url.Values)
		at         time.Time
		wantCode   string
		wantMsg    string
	}{
		{"add", add, nil, now, "0", "成功"},
		{"add again", add, nil, now, "1", "分销商编码已存在"},
		{"update", upd, nil, now, "0", "成功"},
		{"update missing", `{"actionType":"update","distributorCode":"D2","distributorName":"x"}`, nil, now, "1", "分销商不存在"},
		{"bad sign", add, func(p url.Values) { p.Set("sign", "00") }, now, "1", "签名错误"},
		{"body changed after signing", add, func(p url.Values) { p.Set("customerId", "C002") }, now, "1", "签名错误"},
		{"stale timestamp", add, nil, now.Add(-11 * time.Minute), "1", "时间戳已过期"},
		{"unknown appKey", add, func(p url.Values) { p.Set("appKey", "nope") }, now, "1", "appKey不存在"},
		{"missing sign", add, func(p url.Values) { p.Del("sign") }, now, "1", "缺少必要参数: sign"},
	}
	for _, tt := range tests {
		out := call(t, srv.URL, cfg, tt.at, MethodDistributorSync, tt.body, tt.tamper)
		if out["code"] != tt.wantCode || out["message"] != tt.wantMsg || out["flag"] == nil || out["status"] == nil {
			t.Errorf("%s: %v", tt.name, out)
		}
	}
	if out := call(t, srv.URL, cfg, now, "greatonce.nope", add, nil); out["message"] != "接口不存在" {
		t.Errorf("unknown method: %v", out)
	}
	d := s.Distributors()
	if len(d) != 1 || d[0].DistributorName != "分销商一改" || d[0].Updates != 1 {
		t.Fatalf("state %+v", d)
	}
}

func TestRateLimitAndFaults(t *testing.T) {
	cfg := DefaultConfig()
	cfg.RatePerSecond = 1
	s := New(cfg)
	srv := httptest.NewServer(s)
	defer srv.Close()
	limited := 0
	for i := range 5 {
		body := `{"actionType":"add","distributorCode":"R` + string(rune('0'+i)) + `","distributorName":"x"}`
		if out := call(t, srv.URL, cfg, time.Now(), MethodDistributorSync, body, nil); out["message"] == "访问过于频繁" {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("rate limit never answered")
	}
	// A fault rule through the control plane: the next call gets HTTP 502.
	resp, err := http.Post(srv.URL+"/_mock/faults", "application/json", strings.NewReader(`{"endpoint":"greatonce.distributor.single.sync","kind":"http502","count":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set fault: %v", err)
	}
	s.SetRate(0)
	p := url.Values{"method": {MethodDistributorSync}}
	r2, _ := http.Post(srv.URL+"/api/api.do?"+p.Encode(), "application/json", strings.NewReader("{}"))
	if r2.StatusCode != http.StatusBadGateway {
		t.Fatalf("fault not applied: %d", r2.StatusCode)
	}
}

func TestUpdateKeepsFieldsItLeavesOut(t *testing.T) {
	cfg := DefaultConfig()
	s := New(cfg)
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, body := range []string{
		`{"actionType":"add","distributorCode":"D1","distributorName":"一","address":"上海","mobile":"138","contact":"张"}`,
		// Leaves out address and mobile, clears contact.
		`{"actionType":"update","distributorCode":"D1","distributorName":"一改","contact":""}`,
	} {
		if out := call(t, srv.URL, cfg, time.Now(), MethodDistributorSync, body, nil); out["code"] != "0" {
			t.Fatalf("%s: %v", body, out)
		}
	}
	d := s.Distributors()
	if len(d) != 1 || d[0].DistributorName != "一改" || d[0].Address != "上海" || d[0].Mobile != "138" || d[0].Contact != "" {
		t.Fatalf("state %+v", d)
	}
}

// TestQuotaControlPlane sets a quota through /_mock/quota: a burst of calls beyond the bucket is
// refused with 访问过于频繁 and counted; rate 0 lifts the quota.
func TestQuotaControlPlane(t *testing.T) {
	cfg := DefaultConfig()
	s := New(cfg)
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/_mock/quota", "application/json", strings.NewReader(`{"rate":0.001,"burst":3}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set quota: %v %v", err, resp)
	}
	resp.Body.Close()
	for i := range 5 {
		body := `{"actionType":"add","distributorCode":"Q` + string(rune('0'+i)) + `","distributorName":"x"}`
		out := call(t, srv.URL, cfg, time.Now(), MethodDistributorSync, body, nil)
		if want := i >= 3; (out["message"] == "访问过于频繁") != want {
			t.Fatalf("call %d: %v, throttled want %v", i, out, want)
		}
	}
	if q := s.Quota(); q.Rate != 0.001 || q.Burst != 3 || q.Accepted != 3 || q.Throttled != 2 {
		t.Fatalf("quota %+v", q)
	}
	if len(s.Distributors()) != 3 {
		t.Fatalf("a throttled call changed data: %d distributors", len(s.Distributors()))
	}
	resp, _ = http.Post(srv.URL+"/_mock/quota", "application/json", strings.NewReader(`{"rate":-1}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("negative rate: %d", resp.StatusCode)
	}
	s.SetQuota(0, 0)
	if out := call(t, srv.URL, cfg, time.Now(), MethodDistributorSync, `{"actionType":"add","distributorCode":"Q9","distributorName":"x"}`, nil); out["code"] != "0" {
		t.Fatalf("unlimited: %v", out)
	}
}
