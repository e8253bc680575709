package zhilong

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/syncgate/syncgate/mocks/mockctl"
)

func post(t *testing.T, url, token, body string) map[string]any {
	t.Helper()
	var out map[string]any
	json.Unmarshal(postRaw(t, url, token, body), &out)
	return out
}

// postRaw posts body and returns the answer's bytes (HTTP 200 only).
func postRaw(t *testing.T, url, token, body string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	return b
}

func TestLoginListPagingAndErrors(t *testing.T) {
	s := New(DefaultConfig())
	s.Seed(25, 1)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cfg := DefaultConfig()
	if out := post(t, srv.URL+"/api/agentInfo/list", "", "{}"); out["code"] != float64(401) {
		t.Fatalf("no token: %v", out)
	}
	if out := post(t, srv.URL+"/login", "", `{"username":"x","password":"y"}`); out["code"] != float64(500) || out["msg"] != "用户不存在/密码错误" {
		t.Fatalf("bad login: %v", out)
	}
	tok := post(t, srv.URL+"/login", "", `{"username":"`+cfg.Username+`","password":"`+cfg.Password+`","code":"","uuid":""}`)["token"].(string)
	all := s.Agents()
	w := `{"updateTimeStart":"` + all[0].UpdateTime.Format(timeLayout) + `","updateTimeEnd":"` + all[19].UpdateTime.Format(timeLayout) + `"}`
	out := post(t, srv.URL+"/api/agentInfo/list?pageNum=1&pageSize=8", tok, w)
	total := int(out["total"].(float64))
	if total < 20 || len(out["rows"].([]any)) != 8 {
		t.Fatalf("page 1: total %d rows %d", total, len(out["rows"].([]any)))
	}
	row := out["rows"].([]any)[0].(map[string]any)
	for _, f := range seedFields {
		if _, ok := row[f]; !ok {
			t.Fatalf("row lacks seed field %s", f)
		}
	}
	if p, ok := row["params"].(map[string]any); !ok || len(p) != 0 {
		t.Fatalf("params = %v", row["params"])
	}
	last := post(t, srv.URL+"/api/agentInfo/list?pageNum=3&pageSize=8", tok, w)
	past := post(t, srv.URL+"/api/agentInfo/list?pageNum=9&pageSize=8", tok, w)
	lb, _ := json.Marshal(last["rows"])
	pb, _ := json.Marshal(past["rows"])
	if len(last["rows"].([]any)) == 0 || string(lb) != string(pb) {
		t.Fatal("a page past the last must answer the last page (reasonable paging)")
	}
	// Defaults: pageNum 1, pageSize 10.
	if out := post(t, srv.URL+"/api/agentInfo/list", tok, "{}"); len(out["rows"].([]any)) != 10 || out["total"] != float64(25) {
		t.Fatalf("defaults: %v", out["total"])
	}
	// Token expiry fault: every token stops working.
	resp, _ := http.Post(srv.URL+"/_mock/faults", "application/json", strings.NewReader(`{"endpoint":"agentInfo/list","kind":"token_expiry","count":1}`))
	resp.Body.Close()
	if out := post(t, srv.URL+"/api/agentInfo/list", tok, "{}"); out["code"] != float64(401) {
		t.Fatalf("after token expiry: %v", out["code"])
	}
	resp, _ = http.Post(srv.URL+"/_mock/faults", "application/json", strings.NewReader(`{"endpoint":"agentInfo/list","kind":"rate_limit","count":1}`))
	resp.Body.Close()
	if out := post(t, srv.URL+"/api/agentInfo/list", tok, "{}"); out["code"] != float64(500) || out["msg"] != "访问过于频繁，请稍候再试" {
		t.Fatalf("rate limit: %v", out)
	}
}

// loggedIn serves a mock seeded with n agents and logs in to it.
func loggedIn(t *testing.T, n int) (*httptest.Server, string) {
	t.Helper()
	s := New(DefaultConfig())
	s.Seed(n, 1)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	return srv, post(t, srv.URL+"/login", "", `{"username":"`+cfg.Username+`","password":"`+cfg.Password+`"}`)["token"].(string)
}

// TestOneMillionAgents seeds 1,000,000 agents and pages the last window. Skipped with -short.
func TestOneMillionAgents(t *testing.T) {
	if testing.Short() {
		t.Skip("1M seed")
	}
	srv, tok := loggedIn(t, 1_000_000)
	out := post(t, srv.URL+"/api/agentInfo/list?pageNum=99999999&pageSize=1000", tok, "{}")
	if out["total"] != float64(1_000_000) || len(out["rows"].([]any)) != 1000 {
		t.Fatalf("total %v, rows %d", out["total"], len(out["rows"].([]any)))
	}
}

// invalid_utf8 answers an agent page whose Chinese text is invalid UTF-8, in well-formed JSON.
func TestInvalidUTF8Page(t *testing.T) {
	srv, tok := loggedIn(t, 3)
	if err := mockctl.New(srv.URL, nil).SetFault(context.Background(), mockctl.Fault{Endpoint: "agentInfo/list", Kind: mockctl.KindInvalidUTF8, Count: 1}); err != nil {
		t.Fatal(err)
	}
	page := srv.URL + "/api/agentInfo/list?pageNum=1&pageSize=10"
	bad, good := postRaw(t, page, tok, "{}"), postRaw(t, page, tok, "{}")
	if utf8.Valid(bad) || !json.Valid(bad) || len(bad) != len(good) || !utf8.Valid(good) || !bytes.Contains(bad, []byte(`"total":3`)) {
		t.Fatalf("faulty page %q, next page %q", bad, good)
	}
}
