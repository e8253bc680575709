package kingdee

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

// fakeK3 is a minimal Kingdee stand-in for unit tests.
type fakeK3 struct {
	mu       sync.Mutex
	sid      string
	sidN     int
	logins   int
	queries  []queryData
	rows     int // customers 1..rows
	fault    func(n int, service string, w http.ResponseWriter) bool
	calls    int
	saveBody string
	saveResp string
	signMode bool
}

func (f *fakeK3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	service := strings.TrimSuffix(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], ".common.kdsvc")
	if service == ServiceValidateUser {
		f.logins++
		var in map[string]any
		_ = json.Unmarshal(body, &in)
		if in["password"] != "pw-Secret" || in["acctid"] != "acct1" || in["lcid"] != float64(2052) {
			fmt.Fprint(w, `{"Message":"用户名或密码错误","LoginResultType":-1,"IsSuccessByAPI":false}`)
			return
		}
		f.sidN++
		f.sid = fmt.Sprintf("sid-%d", f.sidN)
		http.SetCookie(w, &http.Cookie{Name: "kdservice-sessionid", Value: f.sid})
		fmt.Fprintf(w, `{"Message":null,"LoginResultType":1,"Context":{"UserName":"u","SessionId":%q},"KDSVCSessionId":%q,"IsSuccessByAPI":true}`, f.sid, f.sid)
		return
	}
	f.calls++
	if f.fault != nil && f.fault(f.calls, service, w) {
		return
	}
	lost := `{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[{"FieldName":null,"Message":"会话信息已丢失，请重新登录","DIndex":0}],"SuccessEntitys":[],"SuccessMessages":[],"MsgCode":1}}}`
	if f.signMode {
		h, _ := SignHeaders(SignParams{AppID: r.Header.Get("X-Kd-Appkey"), AppSecret: "fb7d46647ac346dbb5fcd45b65512a45",
			AcctID: "acct1", Username: "webapi", LCID: 2052, OrgNum: "0", Path: r.URL.Path,
			Timestamp: r.Header.Get("x-api-timestamp"), Nonce: r.Header.Get("x-api-nonce")})
		if h == nil || h.Get("X-Api-Signature") != r.Header.Get("X-Api-Signature") || h.Get("X-Kd-Signature") != r.Header.Get("X-Kd-Signature") {
			fmt.Fprint(w, lost)
			return
		}
	} else if f.sid == "" || r.Header.Get("kdservice-sessionid") != f.sid {
		if service == ServiceExecuteBillQuery {
			lost = "[[" + lost + "]]"
		}
		fmt.Fprint(w, lost)
		return
	}
	switch service {
	case ServiceExecuteBillQuery:
		var env struct{ Data queryData }
		_ = json.Unmarshal(body, &env)
		f.queries = append(f.queries, env.Data)
		var rows []string
		end := f.rows
		if env.Data.Limit > 0 {
			end = min(end, env.Data.StartRow+env.Data.Limit)
		}
		for i := env.Data.StartRow; i < end; i++ {
			rows = append(rows, fmt.Sprintf(`[%d,"CUST%04d"," ","2024-04-11T23:52:02.583"]`, i+1, i+1))
		}
		fmt.Fprintf(w, "[%s]", strings.Join(rows, ","))
	default:
		f.saveBody = string(body)
		fmt.Fprint(w, f.saveResp)
	}
}

func newK3(t *testing.T, f *fakeK3, hook vendor.Hook) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL + "/k3cloud", AcctID: "acct1", Username: "webapi", Password: "pw-Secret",
		Transport: vendor.Transport{MaxAttempts: 4, BackoffInitial: time.Millisecond, BackoffMax: 2 * time.Millisecond, Hook: hook}})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

var keys = []string{"FCUSTID", "FNumber", "FDescription", "FModifyDate"}

func TestQueryWithSessionReuseAndTolerantRows(t *testing.T) {
	f := &fakeK3{rows: 3}
	var mu sync.Mutex
	var as []vendor.Attempt
	c, _ := newK3(t, f, func(_ context.Context, a vendor.Attempt) { mu.Lock(); as = append(as, a); mu.Unlock() })
	for range 2 {
		rows, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys, Filter: Eq("FForbidStatus", "A")})
		if err != nil || len(rows) != 3 {
			t.Fatalf("rows=%d err=%v", len(rows), err)
		}
		r := rows[1]
		id, err := r.Int64("FCUSTID")
		if err != nil || id != 2 || r.String("FNumber") != "CUST0002" || r.String("FDescription") != "" {
			t.Fatalf("row = %v", r)
		}
		ts, err := r.Time("FModifyDate")
		if err != nil || !ts.Equal(time.Date(2024, 4, 11, 15, 52, 2, 583e6, time.UTC)) {
			t.Fatalf("time = %v %v", ts, err)
		}
	}
	if f.logins != 1 || f.queries[0].FieldKeys != "FCUSTID,FNumber,FDescription,FModifyDate" || f.queries[0].FilterString != "FForbidStatus = 'A'" {
		t.Fatalf("logins=%d query=%+v", f.logins, f.queries[0])
	}
	if as[0].Operation != OpLogin || strings.Contains(string(as[0].Request), "pw-Secret") || strings.Contains(string(as[0].Response), "sid-1") {
		t.Fatalf("login audit leaks: %s %s", as[0].Request, as[0].Response)
	}
}

func TestReloginOnMsgCode1ThenReplay(t *testing.T) {
	f := &fakeK3{rows: 1}
	c, _ := newK3(t, f, nil)
	if err := c.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.sid = "server-restarted"
	if _, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys}); err != nil {
		t.Fatal(err)
	}
	if f.logins != 2 || f.calls != 2 {
		t.Fatalf("logins=%d calls=%d", f.logins, f.calls)
	}
	// A session that is lost again right after re-login surfaces as Reauth.
	f.fault = func(n int, _ string, w http.ResponseWriter) bool {
		fmt.Fprint(w, `[[{"Result":{"ResponseStatus":{"IsSuccess":false,"Errors":[{"Message":"会话信息已丢失，请重新登录"}],"MsgCode":1}}}]]`)
		return true
	}
	_, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys})
	if !vendor.IsReauth(err) || f.logins != 3 {
		t.Fatalf("err=%v logins=%d", err, f.logins)
	}
	// Wrong password is permanent and never echoed.
	c.cfg.Password = "nope-pw"
	err = c.Login(context.Background())
	if !vendor.IsPermanent(err) || !strings.Contains(err.Error(), "用户名或密码错误") || strings.Contains(err.Error(), "nope-pw") {
		t.Fatalf("err = %v", err)
	}
}

func TestRowsPagingAndTopRowCount(t *testing.T) {
	f := &fakeK3{rows: 5}
	c, _ := newK3(t, f, nil)
	collect := func(q Query) []string {
		var out []string
		for r, err := range c.Rows(context.Background(), q) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r.String("FNumber"))
		}
		return out
	}
	got := collect(Query{FormID: "BD_Customer", FieldKeys: keys, Limit: 2})
	if len(got) != 5 || got[4] != "CUST0005" || len(f.queries) != 3 {
		t.Fatalf("got %v in %d calls", got, len(f.queries))
	}
	f.queries = nil
	got = collect(Query{FormID: "BD_Customer", FieldKeys: keys, Limit: 2, TopRowCount: 3})
	if len(got) != 3 || len(f.queries) != 2 || f.queries[1].StartRow != 2 || f.queries[1].Limit != 1 || f.queries[1].TopRowCount != 0 {
		t.Fatalf("got %v, queries %+v", got, f.queries)
	}
	// Exactly a multiple of Limit: one extra (empty) page ends the stream.
	f.queries, f.rows = nil, 4
	if got = collect(Query{FormID: "BD_Customer", FieldKeys: keys, Limit: 2}); len(got) != 4 || len(f.queries) != 3 {
		t.Fatalf("got %v in %d calls", got, len(f.queries))
	}
}

func TestFailureLayersAndQueryErrors(t *testing.T) {
	transient := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) {
			fmt.Fprint(w, "response_error: 远程主机强迫关闭了一个现有的连接")
		},
		func(w http.ResponseWriter) { fmt.Fprint(w, "<html><title>Server Error</title></html>") },
		func(w http.ResponseWriter) { fmt.Fprint(w, `[[1,"CUST`) },
		func(w http.ResponseWriter) {
			w.WriteHeader(500)
			fmt.Fprint(w, `{"actionname":"ShowErrMsg","data":{"message":"数据库连接超时"}}`)
		},
		func(w http.ResponseWriter) {
			fmt.Fprint(w, `[[{"Result":{"ResponseStatus":{"IsSuccess":false,"Errors":[{"Message":"网控冲突"}],"MsgCode":13}}}]]`)
		},
	}
	for i, fault := range transient {
		f := &fakeK3{rows: 1}
		var seen error
		f.fault = func(n int, _ string, w http.ResponseWriter) bool {
			if n == 1 {
				fault(w)
				return true
			}
			return false
		}
		c, _ := newK3(t, f, func(_ context.Context, a vendor.Attempt) {
			if a.Attempt == 1 && a.Operation == OpExecuteBillQuery {
				seen = a.Err
			}
		})
		if rows, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys}); err != nil || len(rows) != 1 {
			t.Fatalf("fault %d: rows=%d err=%v", i, len(rows), err)
		}
		if !vendor.IsTransient(seen) {
			t.Fatalf("fault %d classified %v", i, seen)
		}
		if i == 3 && !strings.Contains(seen.Error(), "数据库连接超时") {
			t.Fatalf("ShowErrMsg message lost: %v", seen)
		}
	}
	f := &fakeK3{rows: 1, fault: func(n int, _ string, w http.ResponseWriter) bool {
		fmt.Fprint(w, `[[{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[{"FieldName":null,"Message":"元数据中标识为FXxx的字段不存在","DIndex":0}],"MsgCode":9}}}]]`)
		return true
	}}
	c, _ := newK3(t, f, nil)
	_, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: []string{"FXxx"}})
	var ve *vendor.Error
	if !errors.As(err, &ve) || ve.Kind != vendor.Permanent || ve.Code != "9" || !strings.Contains(ve.Message, "FXxx") || f.calls != 1 {
		t.Fatalf("err=%v calls=%d", err, f.calls)
	}
	f = &fakeK3{rows: 1, fault: func(int, string, http.ResponseWriter) bool { return false }}
	_, srv := newK3(t, f, nil)
	f.fault = func(_ int, _ string, w http.ResponseWriter) bool { w.WriteHeader(404); return true }
	c, _ = New(Config{BaseURL: srv.URL + "/k3cloud/", AcctID: "acct1", Username: "webapi", Password: "pw-Secret",
		Transport: vendor.Transport{MaxAttempts: 3, BackoffInitial: time.Millisecond}})
	if _, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys}); !vendor.IsPermanent(err) || f.calls != 1 {
		t.Fatalf("404: err=%v calls=%d", err, f.calls)
	}
}

func TestBatchSavePartialResultsByDIndex(t *testing.T) {
	f := &fakeK3{saveResp: `{"Result":{"ResponseStatus":{"ErrorCode":500,"IsSuccess":false,"Errors":[` +
		`{"FieldName":"FNumber","Message":"违反字段唯一性要求：编码唯一。[C1]在当前系统中已经被使用。","DIndex":1},` +
		`{"FieldName":"FName","Message":"字段[客户名称]是必录字段","DIndex":"2"}],` +
		`"SuccessEntitys":[{"Id":374095,"Number":"CUST0001","DIndex":0}],"SuccessMessages":[],"MsgCode":11}}}`}
	c, _ := newK3(t, f, nil)
	no := false
	res, err := c.BatchSave(context.Background(), SaveRequest{FormID: "BD_Customer", IsAutoSubmitAndAudit: true, IsDeleteEntry: &no,
		Model: []map[string]any{{"FCUSTID": 0, "FName": "A"}, {"FNumber": "C1"}, {"FName": ""}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 3 || res.Items[0].ID != 374095 || res.Items[0].Number != "CUST0001" || res.Items[0].Err != nil {
		t.Fatalf("item 0 = %+v", res.Items[0])
	}
	if e := res.Items[1].Err; e == nil || e.Kind != vendor.Permanent || e.Code != "11" || res.Items[1].Field != "FNumber" || !strings.Contains(e.Message, "已经被使用") {
		t.Fatalf("item 1 = %+v", res.Items[1])
	}
	if res.Items[2].Err == nil || res.Items[2].DIndex != 2 || len(res.Failed()) != 2 {
		t.Fatalf("item 2 = %+v", res.Items[2])
	}
	var sent struct {
		FormID string `json:"formid"`
		Data   struct {
			Model                []map[string]any
			IsAutoSubmitAndAudit bool
			IsDeleteEntry        *bool
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(f.saveBody), &sent); err != nil || sent.FormID != "BD_Customer" || len(sent.Data.Model) != 3 ||
		!sent.Data.IsAutoSubmitAndAudit || sent.Data.IsDeleteEntry == nil || *sent.Data.IsDeleteEntry {
		t.Fatalf("sent %s", f.saveBody)
	}

	// Pre-encoded items are sent as they are, as the same Model array.
	res, err = c.BatchSave(context.Background(), SaveRequest{FormID: "BD_Customer",
		Models: []json.RawMessage{json.RawMessage(`{"FName":"A","FCUSTID":0}`), json.RawMessage(`{"FNumber":"C1"}`), json.RawMessage(`{"FName":""}`)}})
	if err != nil || len(res.Items) != 3 {
		t.Fatalf("pre-encoded: %v %+v", err, res)
	}
	if !strings.Contains(f.saveBody, `"Model":[{"FName":"A","FCUSTID":0},{"FNumber":"C1"},{"FName":""}]`) {
		t.Fatalf("pre-encoded items not sent as given: %s", f.saveBody)
	}

	// A lock conflict with nothing saved is retried as a whole.
	f.saveResp = `{"Result":{"ResponseStatus":{"IsSuccess":false,"Errors":[{"Message":"网控冲突","DIndex":0}],"SuccessEntitys":[],"MsgCode":13}}}`
	f.fault = func(n int, _ string, w http.ResponseWriter) bool {
		if n > 2 {
			fmt.Fprint(w, `{"Result":{"ResponseStatus":{"IsSuccess":true,"Errors":[],"SuccessEntitys":[{"Id":5,"Number":"N5","DIndex":0}],"MsgCode":0},"Id":5,"Number":"N5"}}`)
			return true
		}
		return false
	}
	it, err := c.Save(context.Background(), SaveRequest{FormID: "BD_Customer", Model: []map[string]any{{"FName": "x"}}})
	if err != nil || it.ID != 5 || it.Number != "N5" || f.calls != 3 {
		t.Fatalf("save: %+v %v calls=%d", it, err, f.calls)
	}
	// Save surfaces a single item's validation failure as the error.
	f.fault = nil
	f.saveResp = `{"Result":{"ResponseStatus":{"IsSuccess":false,"Errors":[{"FieldName":"FName","Message":"字段[客户名称]是必录字段","DIndex":0}],"SuccessEntitys":[],"MsgCode":11}}}`
	if _, err := c.Save(context.Background(), SaveRequest{FormID: "BD_Customer", Model: []map[string]any{{}}}); !vendor.IsPermanent(err) || !strings.Contains(err.Error(), "必录") {
		t.Fatalf("err = %v", err)
	}
}

func TestSignatureModeSendsSignedHeadersWithoutLogin(t *testing.T) {
	f := &fakeK3{rows: 2, signMode: true}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL + "/k3cloud/", AcctID: "acct1", Username: "webapi",
		AppID: "204399_72epSbtEQMC92Vwt2d3LRa9LRqSc1tqJ", AppSecret: "fb7d46647ac346dbb5fcd45b65512a45"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys})
	if err != nil || len(rows) != 2 || f.logins != 0 {
		t.Fatalf("rows=%d err=%v logins=%d", len(rows), err, f.logins)
	}
}

func TestConcurrentCallsShareOneRelogin(t *testing.T) {
	f := &fakeK3{rows: 1}
	c, _ := newK3(t, f, nil)
	if err := c.Login(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.sid = "lost"
	f.mu.Unlock()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f.logins != 2 {
		t.Fatalf("logins = %d, want 2 (one initial, one shared renewal)", f.logins)
	}
}

// Kingdee's call limit (MsgCode 14) is a throttling answer; its lock conflict (MsgCode 13) is not.
func TestCallLimitIsThrottled(t *testing.T) {
	for code, want := range map[int]bool{14: true, 13: false} {
		f := &fakeK3{rows: 1}
		f.fault = func(n int, _ string, w http.ResponseWriter) bool {
			if n == 1 {
				fmt.Fprintf(w, `[[{"Result":{"ResponseStatus":{"IsSuccess":false,"Errors":[{"Message":"调用受限"}],"MsgCode":%d}}}]]`, code)
				return true
			}
			return false
		}
		var seen error
		c, _ := newK3(t, f, func(_ context.Context, a vendor.Attempt) {
			if a.Attempt == 1 && a.Operation == OpExecuteBillQuery {
				seen = a.Err
			}
		})
		if _, err := c.QueryPage(context.Background(), Query{FormID: "BD_Customer", FieldKeys: keys}); err != nil {
			t.Fatalf("MsgCode %d: %v", code, err)
		}
		if seen == nil || vendor.IsThrottled(seen) != want || !vendor.IsTransient(seen) {
			t.Fatalf("MsgCode %d: first attempt %v, throttled %v, want %v", code, seen, vendor.IsThrottled(seen), want)
		}
	}
}
