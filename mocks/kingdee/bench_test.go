package kingdee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Figures: go test -run XXX -bench . -benchmem ./mocks/kingdee (2-vCPU AMD EPYC shared with other
// work, 100k seeded customers; median of three runs, the old and new test binaries interleaved),
// before → after the hot-path work (filter literals parsed once, "in" sets, rows and save answers
// encoded by hand, Save bodies decoded once without reflection).

// benchServer is a mock seeded with n customers and a session cookie for it.
type benchServer struct {
	s      *Server
	cookie string
}

func newBenchServer(tb testing.TB, n int) *benchServer {
	s := New(DefaultConfig())
	s.Seed(n, 1)
	cfg := DefaultConfig()
	body, _ := json.Marshal(map[string]any{"acctid": cfg.AcctID, "username": cfg.Username, "password": cfg.Password, "lcid": 2052})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/k3cloud/"+login+".common.kdsvc", bytes.NewReader(body)))
	var ck []string
	for _, c := range rec.Result().Cookies() {
		ck = append(ck, c.Name+"="+c.Value)
	}
	if len(ck) == 0 {
		tb.Fatalf("login: %s", rec.Body.String())
	}
	return &benchServer{s: s, cookie: strings.Join(ck, "; ")}
}

// do posts body to service and returns the answer.
func (b *benchServer) do(service string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/k3cloud/"+service+".common.kdsvc", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", b.cookie)
	rec := httptest.NewRecorder()
	b.s.ServeHTTP(rec, req)
	return rec
}

// queryBody is an ExecuteBillQuery body as clients/kingdee sends it.
func queryBody(keys, filter, order string, limit int) []byte {
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"FormId": "BD_Customer", "FieldKeys": keys,
		"FilterString": filter, "OrderString": order, "TopRowCount": 0, "StartRow": 0, "Limit": limit, "SubSystemId": ""}})
	return b
}

// The gateway's SyncCustomers requests (server/engine/customers.go with the default spec).
const (
	customerHeaderKeys = "FCUSTID,FNumber,FModifyDate,FName,FUseOrgId.FName,FUseOrgId.FNumber,F_FML_Combo,F_FML_Combo1"
	customerEntryKeys  = "FCUSTID,FIsDefaultConsignee,FADDRESS1,FTContact.FName"
)

// keysetFilter is the filter of a SyncCustomers keyset page after the customer at position i.
func keysetFilter(s *Server, i int) string {
	c := s.ix.entries[i].c
	t := "'" + c.Modified.Format(timeLayout) + "'"
	end := "'" + s.ix.entries[len(s.ix.entries)-1].c.Modified.Format(timeLayout) + "'"
	return fmt.Sprintf("FDocumentStatus = 'C' and FForbidStatus = 'A' and FModifyDate <= %s and (FModifyDate > %s or (FModifyDate = %s and FCUSTID > %d))", end, t, t, c.ID)
}

func checkRows(b *testing.B, rec *httptest.ResponseRecorder, want int) {
	var rows [][]any
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil || len(rows) < want {
		b.Fatalf("%d rows (want ≥ %d): %.300s", len(rows), want, rec.Body.String())
	}
}

// BenchmarkExecuteBillQueryKeysetPage: one SyncCustomers keyset page of 1000 header rows out of 100k
// customers.
//
//	before: 2.16 ms/op  583 KB/op  15360 allocs/op
//	after:  1.14 ms/op  356 KB/op  12348 allocs/op
func BenchmarkExecuteBillQueryKeysetPage(b *testing.B) {
	bs := newBenchServer(b, 100_000)
	body := queryBody(customerHeaderKeys, keysetFilter(bs.s, 50_000), "FModifyDate ASC, FCUSTID ASC", 1000)
	checkRows(b, bs.do(query, body), 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bs.do(query, body)
	}
}

// BenchmarkExecuteBillQueryInFCUSTID: the SyncCustomers address query, FCUSTID in (1000 ids) with the
// entry fields (one row per address).
//
//	before: 3.73 ms/op  950 KB/op  13271 allocs/op
//	after:  1.13 ms/op  825 KB/op   9361 allocs/op
func BenchmarkExecuteBillQueryInFCUSTID(b *testing.B) {
	bs := newBenchServer(b, 100_000)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint(bs.s.ix.entries[50_000+i].c.ID)
	}
	body := queryBody(customerEntryKeys, "FCUSTID in ("+strings.Join(ids, ", ")+")", "FCUSTID ASC", 0)
	checkRows(b, bs.do(query, body), 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bs.do(query, body)
	}
}

// BenchmarkExecuteBillQueryInOutID: the SyncAgents lookup, F_out_id in (1000 agent ids), no order,
// half of them existing.
//
//	before: 15.6 ms/op  4.59 MB/op  255219 allocs/op
//	after:  0.91 ms/op  0.78 MB/op    5682 allocs/op
func BenchmarkExecuteBillQueryInOutID(b *testing.B) {
	bs := newBenchServer(b, 100_000)
	bs.s.mu.Lock()
	for i := 0; i < 1000; i += 2 {
		bs.s.custs[int64(100001+i*7)].OutID = fmt.Sprintf("AG%07d", i+1)
		bs.s.byOutID[fmt.Sprintf("AG%07d", i+1)] = bs.s.custs[int64(100001+i*7)]
	}
	bs.s.mu.Unlock()
	vals := make([]string, 1000)
	for i := range vals {
		vals[i] = fmt.Sprintf("'AG%07d'", i+1)
	}
	body := queryBody("FCUSTID,F_out_id", "F_out_id in ("+strings.Join(vals, ", ")+")", "", 0)
	checkRows(b, bs.do(query, body), 500)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bs.do(query, body)
	}
}

// agentModels are n SyncAgents BatchSave models (server/mapping/specs/agents.yaml) for customers
// first+0…first+n-1 (0: create).
func agentModels(n int, first int64) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		id := int64(0)
		if first != 0 {
			id = first + int64(i)
		}
		ref := func(v string) map[string]any { return map[string]any{"FNumber": v} }
		out[i] = map[string]any{"FCUSTID": id, "FName": fmt.Sprintf("上海植隆贸易有限公司%d", i), "FCreateOrgId": ref("100"),
			"FUseOrgId": ref("100"), "FDescription": "", "FTRADINGCURRID": ref("PRE001"), "FADDRESS": "上海市浦东新区张江路88号",
			"FINVOICETITLE": fmt.Sprintf("上海植隆贸易有限公司%d", i), "FTAXREGISTERCODE": "", "FINVOICEBANKNAME": "",
			"FINVOICETEL": "", "FINVOICEBANKACCOUNT": "", "FINVOICEADDRESS": "", "F_out_id": fmt.Sprintf("AG%07d", i+1),
			"F_KHLX": "KHLX01_SYS", "FGroup": ref("01"), "FCustTypeId": ref("KHLB001_SYS"), "F_FML_Combo": "1", "F_FML_Combo1": "A"}
		if id == 0 {
			out[i]["FNumber"] = ""
		}
	}
	return out
}

// BenchmarkBatchSave500: a SyncAgents BatchSave of 500 updates (NeedUpDateFields set).
//
//	before: 16.1 ms/op  5.61 MB/op  64886 allocs/op
//	after:  4.84 ms/op  3.33 MB/op  31614 allocs/op
func BenchmarkBatchSave500(b *testing.B) {
	bs := newBenchServer(b, 100_000)
	models := agentModels(500, 100_001)
	var need []string
	for k := range models[0] {
		if k != "FCUSTID" {
			need = append(need, k)
		}
	}
	body, _ := json.Marshal(map[string]any{"formid": "BD_Customer", "data": map[string]any{"Model": models,
		"NeedUpDateFields": need, "IsAutoSubmitAndAudit": true, "IsVerifyBaseDataField": false}})
	if rec := bs.do(batch, body); !strings.Contains(rec.Body.String(), `"IsSuccess":true`) {
		b.Fatalf("batch: %.300s", rec.Body.String())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bs.do(batch, body)
	}
}
