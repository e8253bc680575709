package greatonce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

func TestSignVectorFromSpec(t *testing.T) {
	params := url.Values{
		"appKey": {"testkey"}, "customerId": {"C001"}, "format": {"json"},
		"method": {"greatonce.distributor.single.sync"}, "sign_method": {"md5"},
		"timestamp": {"2024-01-01 12:00:00"}, "sign": {"ignored"}, "v": {""},
	}
	body := `{"actionType":"add","distributorCode":"KH0001","distributorName":"Demo","distributorCompanyName":"Demo Co","mobile":"13800000000","contact":"Zhang","address":"Shanghai","balance_deduct_type":"1","distributorLevelName":"A"}`
	if got := Sign("testsecret", params, []byte(body)); got != "F8E16E940F9D48243AD9DB4B04EC5DC7" {
		t.Fatalf("sign = %s", got)
	}
}

func TestDistributorJSONIsByteExactInSeedOrder(t *testing.T) {
	b, err := json.Marshal(Distributor{ActionType: "add", Address: "a", BalanceDeductType: "1", DistributorCode: "c",
		DistributorCompanyName: "co", DistributorName: "n", Mobile: "m", Contact: "ct", DistributorLevelName: "l"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"actionType":"add","address":"a","balance_deduct_type":"1","distributorCode":"c","distributorCompanyName":"co","distributorName":"n","mobile":"m","contact":"ct","distributorLevelName":"l"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// gateway is a tiny Greatonce stand-in that verifies signatures over the raw
// body and answers with scripted envelopes.
type gateway struct {
	t       *testing.T
	mu      sync.Mutex
	bodies  []string
	queries []url.Values
	answer  func(n int, w http.ResponseWriter)
	n       atomic.Int32
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := r.URL.Query()
	g.mu.Lock()
	g.bodies = append(g.bodies, string(body))
	g.queries = append(g.queries, q)
	g.mu.Unlock()
	if r.URL.Path != "/api/api.do" || q.Get("sign") != Sign("s3cret", q, body) {
		fmt.Fprint(w, `{"flag":"failure","code":"1","message":"签名错误"}`)
		return
	}
	g.answer(int(g.n.Add(1)), w)
}

func newTestClient(t *testing.T, g *gateway, hook vendor.Hook) *Client {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL + "/", AppKey: "key1", Secret: "s3cret", CustomerID: "C001",
		Transport: vendor.Transport{MaxAttempts: 4, BackoffInitial: time.Millisecond, BackoffMax: 2 * time.Millisecond, Hook: hook},
		Now:       func() time.Time { return time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDistributorSyncSignsWhatItSendsAndRetriesRateLimits(t *testing.T) {
	g := &gateway{t: t, answer: func(n int, w http.ResponseWriter) {
		switch n {
		case 1:
			fmt.Fprint(w, `{"flag":"failure","code":"1","status":"failure","message":"访问过于频繁"}`)
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"code":429,"message":"too many"}`)
		default:
			fmt.Fprint(w, `{"flag":"success","code":0,"message":"成功"}`)
		}
	}}
	var mu sync.Mutex
	var attempts []vendor.Attempt
	c := newTestClient(t, g, func(_ context.Context, a vendor.Attempt) {
		mu.Lock()
		attempts = append(attempts, a)
		mu.Unlock()
	})
	sent, err := c.DistributorSync(context.Background(), ActionAdd, Distributor{DistributorCode: "KH1", DistributorName: "O'Brien \"Co\""})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.bodies) != 3 || len(attempts) != 3 {
		t.Fatalf("requests = %d, attempts = %d", len(g.bodies), len(attempts))
	}
	if string(sent) != g.bodies[2] {
		t.Fatalf("returned body %s, sent %s", sent, g.bodies[2])
	}
	q := g.queries[0]
	for k, want := range map[string]string{"appKey": "key1", "customerId": "C001", "method": MethodDistributorSync,
		"format": "json", "sign_method": "md5", "timestamp": "2024-01-01 12:00:00"} {
		if q.Get(k) != want {
			t.Errorf("query %s = %q, want %q", k, q.Get(k), want)
		}
	}
	if !strings.HasPrefix(g.bodies[0], `{"actionType":"add",`) {
		t.Fatalf("body = %s", g.bodies[0])
	}
	for _, a := range attempts {
		if strings.Contains(string(a.Request), "s3cret") || strings.Contains(string(a.Request), q.Get("sign")) {
			t.Fatal("audit record carries the secret or signature")
		}
	}
	if !vendor.IsTransient(attempts[0].Err) || attempts[1].HTTPStatus != 429 || attempts[2].Err != nil {
		t.Fatalf("attempt outcomes: %v / %v / %v", attempts[0].Err, attempts[1].Err, attempts[2].Err)
	}
}

func TestEnvelopeVariants(t *testing.T) {
	cases := []struct {
		body string
		ok   bool
		kind vendor.Kind
	}{
		{`{"flag":"success","code":"0","message":"成功"}`, true, 0},
		{`{"code":0,"message":"ok"}`, true, 0},
		{`{"flag":"success","message":"ok"}`, true, 0},
		{`{"status":"success"}`, true, 0},
		{`{"status":"failure","message":"缺少必要参数: sign"}`, false, vendor.Permanent},
		{`{"flag":"failure","code":"1","message":"appKey不存在"}`, false, vendor.Permanent},
		{`{"flag":"failure","code":1,"message":"时间戳已过期"}`, false, vendor.Transient},
		{`{"code":"0","flag":"failure"}`, true, 0}, // code wins
		{`{"message":"no verdict"}`, false, vendor.Transient},
		{`{"code":"0"`, false, vendor.Transient},
		{`<html><title>504</title></html>`, false, vendor.Transient},
	}
	for _, tc := range cases {
		err := checkEnvelope(&vendor.Response{Status: 200, Header: http.Header{}, Body: []byte(tc.body)})
		if tc.ok != (err == nil) || (!tc.ok && vendor.KindOf(err) != tc.kind) {
			t.Errorf("%s: err = %v", tc.body, err)
		}
	}
}

func TestPermanentAnswersSurfaceWithoutRetry(t *testing.T) {
	for _, tc := range []struct {
		msg           string
		exists, found bool
	}{
		{"分销商编码已存在", true, true},
		{"分销商不存在", false, false},
		{"接口不存在", false, true},
	} {
		g := &gateway{t: t, answer: func(int, http.ResponseWriter) {}}
		g.answer = func(_ int, w http.ResponseWriter) {
			fmt.Fprintf(w, `{"flag":"failure","code":"1","status":"failure","message":%q}`, tc.msg)
		}
		c := newTestClient(t, g, nil)
		_, err := c.DistributorSync(context.Background(), ActionUpdate, Distributor{DistributorCode: "KH1", DistributorName: "n"})
		var ve *vendor.Error
		if !errors.As(err, &ve) || ve.Kind != vendor.Permanent || ve.Message != tc.msg || ve.Code != "1" {
			t.Fatalf("%s: err = %v", tc.msg, err)
		}
		if IsAlreadyExists(err) != tc.exists || IsNotFound(err) != !tc.found {
			t.Fatalf("%s: IsAlreadyExists=%v IsNotFound=%v", tc.msg, IsAlreadyExists(err), IsNotFound(err))
		}
		if g.n.Load() != 1 {
			t.Fatalf("%s: permanent error retried (%d calls)", tc.msg, g.n.Load())
		}
	}
}

func TestBadSecretIsPermanentAndLocalValidation(t *testing.T) {
	g := &gateway{t: t, answer: func(_ int, w http.ResponseWriter) { fmt.Fprint(w, `{"code":"0"}`) }}
	c := newTestClient(t, g, nil)
	c.cfg.Secret = "wrong"
	_, err := c.DistributorSync(context.Background(), ActionAdd, Distributor{DistributorCode: "KH1", DistributorName: "n"})
	if !vendor.IsPermanent(err) || !strings.Contains(err.Error(), "签名错误") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("err = %v", err)
	}
	before := len(g.bodies)
	for _, tc := range []struct {
		action string
		d      Distributor
	}{{"delete", Distributor{DistributorCode: "a", DistributorName: "b"}}, {"add", Distributor{DistributorName: "b"}}, {"update", Distributor{DistributorCode: "a"}}} {
		if _, err := c.DistributorSync(context.Background(), tc.action, tc.d); !vendor.IsPermanent(err) {
			t.Fatalf("%+v: err = %v", tc, err)
		}
	}
	if len(g.bodies) != before {
		t.Fatal("invalid requests reached the gateway")
	}
}
