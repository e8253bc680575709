package kingdee

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestSignatureVector(t *testing.T) {
	cfg := DefaultConfig()
	path := "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc"
	if got := apiSignature(cfg.AppID, path, "1700000000", "1700000000"); got != "ZTJhY2RiZTYxNmFhZDMxN2MyZmU2ZTMxN2I0ZmFjZGE2ZGVlMTgyNTM4YzdkOTNlYzFlNzhmZGU1M2E4YTRmNg==" {
		t.Fatalf("X-Api-Signature = %s", got)
	}
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("X-Kd-Appkey", cfg.AppID)
	req.Header.Set("x-api-timestamp", "1700000000")
	req.Header.Set("x-api-nonce", "1700000000")
	req.Header.Set("X-Api-Signature", "ZTJhY2RiZTYxNmFhZDMxN2MyZmU2ZTMxN2I0ZmFjZGE2ZGVlMTgyNTM4YzdkOTNlYzFlNzhmZGU1M2E4YTRmNg==")
	req.Header.Set("X-Kd-Appdata", "NWRiMjVhYzhkMmI4MTksd2ViYXBpLDIwNTIsMA==")
	req.Header.Set("X-Kd-Signature", "OWQ2YWVhM2JmOGVlYWEzYjVlZGI0NzM3MjlmYzA4NTkyYjhiMTAwNTgxODk5MmQ5NWIxMzBjZTQxNjk5ZWFiYg==")
	if !verifySignature(req, cfg, time.Unix(1700000000, 0)) {
		t.Fatal("the spec's signature vector does not verify")
	}
	req.Header.Set("x-api-nonce", "1700000001")
	if verifySignature(req, cfg, time.Unix(1700000000, 0)) {
		t.Fatal("a tampered nonce verifies")
	}
}

func TestFilterParser(t *testing.T) {
	c := &customer{ID: 7, Number: "O'Brien", Name: "植隆", DocStatus: "C", ForbidStatus: "A", UseOrg: 0,
		Modified: time.Date(2026, 3, 1, 9, 0, 0, 500_000_000, gmt8)}
	get := func(f string) any { v, _ := c.get(f); return v }
	tests := []struct {
		filter string
		want   bool
	}{
		{"", true},
		{"FDocumentStatus = 'C' and FForbidStatus = 'A'", true},
		{"FDocumentStatus = 'C' and FForbidStatus = 'B'", false},
		{"FDocumentStatus = 'A' or (FForbidStatus = 'A' and FCUSTID > 6)", true},
		{"FCUSTID in (1, 2, 7)", true},
		{"FCUSTID not in (7)", false},
		{"FNumber = 'O''Brien'", true},
		{"FNumber = 'O''Brien'' or ''1''=''1'", false},
		{"FName like '植%'", true},
		{"FName like '_隆'", true},
		{"FUseOrgId.FNumber = '100'", true},
		{"FModifyDate >= '2026-03-01 09:00:00'", true},
		{"FModifyDate > '2026-03-01 09:00:00.500'", false},
		{"FModifyDate = '2026-03-01 09:00:00.500' and FCUSTID >= 7", true},
		{"FCUSTID <> 7", false},
		{"FCUSTID != 8", true},
		{"not (FCUSTID = 7)", false},
	}
	for _, tt := range tests {
		n, err := parseFilter(tt.filter)
		if err != nil {
			t.Fatalf("%q: %v", tt.filter, err)
		}
		if got := n.eval(get); got != tt.want {
			t.Errorf("%q = %v, want %v", tt.filter, got, tt.want)
		}
	}
	for _, bad := range []string{"FName = 'open", "FName =", "(FName = 'a'", "FName ~ 'a'", "FCUSTID in (1,", "= 'a'"} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"FName = 'a''b'", "FCUSTID in (1,2)", "(a > 1 or b < 2) and c like '%x'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseFilter(s)
		if err == nil {
			n.eval(func(string) any { return "x" })
		}
	})
}

type kclient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (k *kclient) call(service string, body any) (int, string) {
	k.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := k.hc.Post(k.base+"/k3cloud/"+service+".common.kdsvc", "application/json", bytes.NewReader(b))
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func newClient(t *testing.T, n int) (*kclient, *Server) {
	s := New(DefaultConfig())
	s.Seed(n, 1)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &kclient{t: t, base: srv.URL, hc: &http.Client{Jar: jar}}, s
}

const (
	login = "Kingdee.BOS.WebApi.ServicesStub.AuthService.ValidateUser"
	query = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery"
	batch = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.BatchSave"
	save  = "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save"
)

func TestLoginEnvelopesPagingAndErrors(t *testing.T) {
	k, _ := newClient(t, 30)
	cfg := DefaultConfig()
	q := map[string]any{"FormId": "BD_Customer", "FieldKeys": "FCUSTID,FNumber", "OrderString": "FModifyDate ASC, FCUSTID ASC", "Limit": 10}
	if _, body := k.call(query, map[string]any{"data": q}); !strings.HasPrefix(body, "[[") || !strings.Contains(body, `"MsgCode":1`) {
		t.Fatalf("query without a session: %s", body)
	}
	if _, body := k.call(login, map[string]any{"acctid": cfg.AcctID, "username": cfg.Username, "password": "wrong", "lcid": 2052}); !strings.Contains(body, `"LoginResultType":-1`) {
		t.Fatalf("wrong password: %s", body)
	}
	// Positional (Java SDK) login.
	if _, body := k.call(login, map[string]any{"parameters": []any{cfg.AcctID, cfg.Username, cfg.Password, 2052}}); !strings.Contains(body, `"LoginResultType":1`) {
		t.Fatalf("login: %s", body)
	}
	qs, _ := json.Marshal(q)
	for name, env := range map[string]any{
		"named":                 map[string]any{"data": q},
		"named, data as string": map[string]any{"data": string(qs)},
		"positional":            map[string]any{"parameters": []any{string(qs)}},
		"legacy .NET":           map[string]any{"format": 1, "useragent": "ApiClient", "rid": "1", "parameters": `[` + string(mustJSON(string(qs))) + `]`, "v": "1.0"},
	} {
		_, body := k.call(query, env)
		var rows [][]any
		if err := json.Unmarshal([]byte(body), &rows); err != nil || len(rows) != 10 {
			t.Fatalf("%s envelope: %s", name, body)
		}
	}
	// TopRowCount is an absolute end row: StartRow 20 with TopRowCount 5 is empty.
	q2 := map[string]any{"FormId": "BD_Customer", "FieldKeys": "FCUSTID", "StartRow": "20", "Limit": "10", "TopRowCount": 5}
	if _, body := k.call(query, map[string]any{"data": q2}); strings.TrimSpace(body) != "[]" {
		t.Fatalf("TopRowCount past StartRow: %s", body)
	}
	q3 := map[string]any{"FormId": "BD_Customer", "FieldKeys": "FCUSTID", "Limit": 0}
	_, body := k.call(query, map[string]any{"data": q3})
	var all [][]any
	json.Unmarshal([]byte(body), &all)
	if len(all) != 30 {
		t.Fatalf("Limit 0 returned %d rows", len(all))
	}
	for _, tt := range []struct {
		q    map[string]any
		code string
	}{
		{map[string]any{"FormId": "BD_Customer", "FieldKeys": "FNope"}, `"MsgCode":9`},
		{map[string]any{"FormId": "BD_Nope", "FieldKeys": "FName"}, `"MsgCode":4`},
		{map[string]any{"FormId": "BD_Customer", "FieldKeys": ""}, `"MsgCode":8`},
		{map[string]any{"FormId": "BD_Customer", "FieldKeys": "FName", "FilterString": "FName = 'x"}, `"MsgCode":4`},
	} {
		if _, body := k.call(query, map[string]any{"data": tt.q}); !strings.HasPrefix(body, "[[") || !strings.Contains(body, tt.code) {
			t.Errorf("%v: %s", tt.q, body)
		}
	}
}

func mustJSON(s string) []byte { b, _ := json.Marshal(s); return b }

func TestBatchSavePartialDuplicatesAndEntryRows(t *testing.T) {
	k, s := newClient(t, 3)
	cfg := DefaultConfig()
	k.call(login, map[string]any{"acctid": cfg.AcctID, "username": cfg.Username, "password": cfg.Password, "lcid": 2052})
	model := []map[string]any{
		{"FCUSTID": 0, "FName": "新客户", "FNumber": "", "F_out_id": "AG1", "FCreateOrgId": map[string]any{"FNumber": "100"}},
		{"FCUSTID": 0, "FName": "", "FNumber": ""},
		{"FCUSTID": 0, "FName": "重复", "FNumber": "CUST0000001"},
	}
	_, body := k.call(batch, map[string]any{"formid": "BD_Customer", "data": map[string]any{"Model": model, "IsAutoSubmitAndAudit": "true"}})
	for _, want := range []string{`"IsSuccess":false`, `"DIndex":0`, "字段[客户名称]是必录字段", "编码唯一", `"MsgCode":11`} {
		if !strings.Contains(body, want) {
			t.Errorf("batch answer lacks %s: %s", want, body)
		}
	}
	custs := s.Customers()
	if len(custs) != 4 || custs[3].F_out_id != "AG1" || custs[3].FDocumentStatus != "C" {
		t.Fatalf("after partial batch: %+v", custs)
	}
	// Entry fields give one row per address.
	q := map[string]any{"FormId": "BD_Customer", "FieldKeys": "FCUSTID,FADDRESS1,FTContact.FName", "FilterString": "F_out_id in ('AG1') or FCUSTID in (100001,100002,100003)"}
	_, body = k.call(query, map[string]any{"data": q})
	var rows [][]any
	json.Unmarshal([]byte(body), &rows)
	if len(rows) < 4 {
		t.Fatalf("entry rows: %s", body)
	}
}

// TestOneMillionCustomers seeds 1,000,000 customers and checks an incremental query at the end of the
// index answers without scanning everything. Skipped with -short (about 5 s and 1 GiB).
func TestOneMillionCustomers(t *testing.T) {
	if testing.Short() {
		t.Skip("1M seed")
	}
	s := New(DefaultConfig())
	start := time.Now()
	s.Seed(1_000_000, 1)
	seeded := time.Since(start)
	last := s.ix.entries[len(s.ix.entries)-1].c
	f, err := parseFilter("FModifyDate >= '" + last.Modified.Add(-time.Hour).Format(timeLayout) + "' and FDocumentStatus = 'C'")
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	rows := 0
	s.rows(f, false, "FModifyDate ASC, FCUSTID ASC", 0, 100, func(*customer, *address) { rows++ })
	if rows == 0 || time.Since(start) > time.Second {
		t.Fatalf("tail query: %d rows in %s", rows, time.Since(start))
	}
	t.Logf("seeded 1M customers in %s; tail query %s", seeded, time.Since(start))
}

// Customers created after a large seed get ids of their own (a seed of 1M once overlapped them).
// Skipped with -short (an 850k seed: about 2 s, under -race about a minute).
func TestCreatedIDsDoNotCollideWithSeeded(t *testing.T) {
	if testing.Short() {
		t.Skip("850k seed")
	}
	s := New(DefaultConfig())
	s.Seed(850_000, 1)
	s.mu.Lock()
	r := s.saveOne(map[string]any{"FCUSTID": 0.0, "FName": "新"}, nil, true)
	s.mu.Unlock()
	if !r.ok || r.id <= 100000+850_000 {
		t.Fatalf("created id %d collides with seeded ids (ok=%v %s)", r.id, r.ok, r.msg)
	}
	if len(s.Customers()) != 850_001 {
		t.Fatalf("%d customers after one create", len(s.Customers()))
	}
}
