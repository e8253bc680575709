package zhilong

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
)

// fakeRuoYi is a small RuoYi stand-in: login issues numbered tokens, the
// list pages a fixed set of agents with reasonable=true paging.
type fakeRuoYi struct {
	mu        sync.Mutex
	total     int
	tokenN    int
	valid     string
	logins    int
	lists     []string // "pageNum/pageSize start end"
	expireAt  int      // expire the token on this list call number (1-based), 0 = never
	listCalls int
	fault     func(call int, w http.ResponseWriter) bool
}

func (f *fakeRuoYi) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/login":
		f.logins++
		var in map[string]string
		_ = json.Unmarshal(body, &in)
		if in["username"] != "admin" || in["password"] != "pw-Secret" {
			fmt.Fprint(w, `{"msg":"用户不存在/密码错误","code":500}`)
			return
		}
		f.tokenN++
		f.valid = "tok-" + strconv.Itoa(f.tokenN)
		fmt.Fprintf(w, `{"msg":"操作成功","code":200,"token":%q}`, f.valid)
	case "/api/agentInfo/list":
		f.listCalls++
		if f.fault != nil && f.fault(f.listCalls, w) {
			return
		}
		if f.expireAt == f.listCalls {
			f.valid = "expired-" + f.valid
		}
		if r.Header.Get("Authorization") != "Bearer "+f.valid {
			fmt.Fprint(w, `{"msg":"请求访问：/api/agentInfo/list，认证失败，无法访问系统资源","code":401}`)
			return
		}
		var win map[string]string
		_ = json.Unmarshal(body, &win)
		num, _ := strconv.Atoi(r.URL.Query().Get("pageNum"))
		size, _ := strconv.Atoi(r.URL.Query().Get("pageSize"))
		f.lists = append(f.lists, fmt.Sprintf("%d/%d %s %s", num, size, win["updateTimeStart"], win["updateTimeEnd"]))
		last := max(1, (f.total+size-1)/size)
		num = min(num, last) // reasonable=true
		var rows []string
		for i := (num - 1) * size; i < min(num*size, f.total); i++ {
			rows = append(rows, fmt.Sprintf(`{"agentId":%d,"agentName":"代理%d","mobile":null,"margin":12.50,"agentIdArray":[1,2],"params":{},"updateTime":"2024-01-02 03:04:05","isOver":false,"searchValue":null}`, i+1, i+1))
		}
		fmt.Fprintf(w, `{"total":%d,"rows":[%s],"code":200,"msg":"查询成功"}`, f.total, strings.Join(rows, ","))
	default:
		http.NotFound(w, r)
	}
}

type attempts struct {
	mu sync.Mutex
	as []vendor.Attempt
}

func (a *attempts) hook(_ context.Context, at vendor.Attempt) {
	a.mu.Lock()
	a.as = append(a.as, at)
	a.mu.Unlock()
}

func newClient(t *testing.T, f *fakeRuoYi, password string, hook vendor.Hook) *Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, Username: "admin", Password: password,
		Transport: vendor.Transport{MaxAttempts: 4, BackoffInitial: time.Millisecond, BackoffMax: 2 * time.Millisecond, Hook: hook}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var window = Window{
	Start: time.Date(2023, 12, 31, 16, 0, 0, 0, time.UTC),
	End:   time.Date(2024, 1, 1, 16, 0, 0, 0, time.UTC),
}

func TestAgentsStopsOnTotalNotOnEmptyPage(t *testing.T) {
	f := &fakeRuoYi{total: 7}
	var a attempts
	c := newClient(t, f, "pw-Secret", a.hook)
	var ids []string
	for ag, err := range c.Agents(context.Background(), window, 3) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ag.AgentID)
	}
	if got := strings.Join(ids, ","); got != "1,2,3,4,5,6,7" {
		t.Fatalf("ids = %s", got)
	}
	want := []string{
		"1/3 2024-01-01 00:00:00 2024-01-02 00:00:00",
		"2/3 2024-01-01 00:00:00 2024-01-02 00:00:00",
		"3/3 2024-01-01 00:00:00 2024-01-02 00:00:00",
	}
	if strings.Join(f.lists, "|") != strings.Join(want, "|") {
		t.Fatalf("list calls = %q", f.lists)
	}
	if f.logins != 1 {
		t.Fatalf("logins = %d", f.logins)
	}
	// Exactly total is a multiple of the page size: no extra page.
	f.total, f.lists = 6, nil
	n := 0
	for _, err := range c.Agents(context.Background(), window, 3) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 6 || len(f.lists) != 2 {
		t.Fatalf("n=%d calls=%d", n, len(f.lists))
	}
	// The login attempt is redacted in the audit trail.
	login := a.as[0]
	if login.Operation != OpLogin || strings.Contains(string(login.Request), "pw-Secret") || strings.Contains(string(login.Response), "tok-1") {
		t.Fatalf("login audit not redacted: %s / %s", login.Request, login.Response)
	}
}

func TestTolerantDecoding(t *testing.T) {
	f := &fakeRuoYi{total: 1}
	c := newClient(t, f, "pw-Secret", nil)
	rows, total, err := c.Page(context.Background(), window, 1, 10)
	if err != nil || total != 1 || len(rows) != 1 {
		t.Fatalf("rows=%d total=%d err=%v", len(rows), total, err)
	}
	ag := rows[0]
	if ag.AgentID != "1" || ag.AgentName != "代理1" || ag.Mobile != "" || ag.Margin != "12.50" || ag.IsOver != "false" {
		t.Fatalf("decoded %+v", ag)
	}
	if string(ag.AgentIDArray) != "[1,2]" || string(ag.Params) != "{}" || !strings.Contains(string(ag.Raw), `"agentId":1`) {
		t.Fatalf("raw fields: %s %s %s", ag.AgentIDArray, ag.Params, ag.Raw)
	}
	ts, err := ag.UpdatedAt()
	if err != nil || !ts.Equal(time.Date(2024, 1, 1, 19, 4, 5, 0, time.UTC)) {
		t.Fatalf("UpdatedAt = %v, %v", ts, err)
	}
}

func TestReloginOnExpiredTokenThenReplay(t *testing.T) {
	f := &fakeRuoYi{total: 5, expireAt: 2}
	var a attempts
	c := newClient(t, f, "pw-Secret", a.hook)
	n := 0
	for _, err := range c.Agents(context.Background(), window, 2) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 || f.logins != 2 {
		t.Fatalf("n=%d logins=%d", n, f.logins)
	}
	var seq []string
	for _, at := range a.as {
		seq = append(seq, fmt.Sprintf("%s#%d:%s", at.Operation, at.Attempt, vendor.KindOf(at.Err)))
	}
	want := "login#1:unknown agentInfo.list#1:unknown agentInfo.list#1:reauth login#1:unknown agentInfo.list#2:unknown agentInfo.list#1:unknown"
	if strings.Join(seq, " ") != want {
		t.Fatalf("attempts = %s", strings.Join(seq, " "))
	}
}

func TestErrorsAndFaults(t *testing.T) {
	// Wrong password: permanent, not retried, no password in the message.
	f := &fakeRuoYi{total: 1}
	c := newClient(t, f, "wrong-pw", nil)
	_, _, err := c.Page(context.Background(), window, 1, 10)
	if !vendor.IsPermanent(err) || f.logins != 1 || strings.Contains(err.Error(), "wrong-pw") {
		t.Fatalf("err=%v logins=%d", err, f.logins)
	}

	// Transient faults on the list endpoint are retried.
	f = &fakeRuoYi{total: 1, fault: func(call int, w http.ResponseWriter) bool {
		switch call {
		case 1:
			fmt.Fprint(w, `{"msg":"访问过于频繁，请稍候再试","code":500}`)
		case 2:
			w.WriteHeader(http.StatusBadGateway)
		case 3:
			fmt.Fprint(w, `<!DOCTYPE html><html><title>Error</title></html>`)
		default:
			return false
		}
		return true
	}}
	c = newClient(t, f, "pw-Secret", nil)
	if _, _, err := c.Page(context.Background(), window, 1, 10); err != nil {
		t.Fatal(err)
	}

	// 403 is permanent; 401 twice in a row surfaces as reauth after one re-login.
	f = &fakeRuoYi{total: 1, fault: func(call int, w http.ResponseWriter) bool {
		fmt.Fprint(w, `{"msg":"没有权限，请联系管理员授权","code":403}`)
		return true
	}}
	c = newClient(t, f, "pw-Secret", nil)
	_, _, err = c.Page(context.Background(), window, 1, 10)
	var ve *vendor.Error
	if !errors.As(err, &ve) || ve.Kind != vendor.Permanent || ve.Code != "403" || f.listCalls != 1 {
		t.Fatalf("403: %v (calls %d)", err, f.listCalls)
	}
	f = &fakeRuoYi{total: 1, fault: func(call int, w http.ResponseWriter) bool {
		fmt.Fprint(w, `{"msg":"认证失败","code":401}`)
		return true
	}}
	c = newClient(t, f, "pw-Secret", nil)
	_, _, err = c.Page(context.Background(), window, 1, 10)
	if !vendor.IsReauth(err) || f.logins != 2 || f.listCalls != 2 {
		t.Fatalf("401 loop: %v logins=%d calls=%d", err, f.logins, f.listCalls)
	}
}
