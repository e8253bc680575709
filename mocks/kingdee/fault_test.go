package kingdee

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/syncgate/syncgate/mocks/mockctl"
)

// A Save or BatchSave under commit_delay / commit_drop is committed although the client never gets
// the answer: the situation in which a client that retries the create as new (FCUSTID 0) makes a
// duplicate customer.
func TestCommitFaultsCommitTheWriteTheClientNeverSees(t *testing.T) {
	cfg := DefaultConfig()
	for _, tt := range []struct {
		endpoint, service string
		model             any
		fault             mockctl.Fault
	}{
		{EndpointBatchSave, batch, []map[string]any{{"FCUSTID": 0, "FName": "新客户", "F_out_id": "AG1"}, {"FCUSTID": 0, "FName": "新客户二", "F_out_id": "AG2"}},
			mockctl.Fault{Kind: mockctl.KindCommitDelay, LatencyMS: 60_000, Count: 1}},
		{EndpointBatchSave, batch, []map[string]any{{"FCUSTID": 0, "FName": "新客户", "F_out_id": "AG1"}, {"FCUSTID": 0, "FName": "新客户二", "F_out_id": "AG2"}},
			mockctl.Fault{Kind: mockctl.KindCommitDrop, Count: 1}},
		{EndpointSave, save, map[string]any{"FCUSTID": 0, "FName": "新客户", "F_out_id": "AG1"},
			mockctl.Fault{Kind: mockctl.KindCommitDelay, Count: 1}},
		{EndpointSave, save, map[string]any{"FCUSTID": 0, "FName": "新客户", "F_out_id": "AG1"},
			mockctl.Fault{Kind: mockctl.KindCommitDrop, Count: 1}},
	} {
		t.Run(tt.endpoint+"/"+tt.fault.Kind, func(t *testing.T) {
			t.Parallel()
			s := New(cfg)
			srv := httptest.NewServer(s)
			defer srv.Close()
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar, Timeout: time.Second}
			k := &kclient{t: t, base: srv.URL, hc: hc}
			k.call(login, map[string]any{"acctid": cfg.AcctID, "username": cfg.Username, "password": cfg.Password, "lcid": 2052})
			ctl := mockctl.New(srv.URL+"/k3cloud/", nil)
			f := tt.fault
			f.Endpoint = tt.endpoint
			if err := ctl.SetFault(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(map[string]any{"formid": "BD_Customer", "data": map[string]any{"Model": tt.model}})
			resp, err := hc.Post(srv.URL+"/k3cloud/"+tt.service+".common.kdsvc", "application/json", bytes.NewReader(b))
			if err == nil {
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Fatalf("answered %s %s", resp.Status, out)
			}
			var ne interface{ Timeout() bool }
			if timeout := errors.As(err, &ne) && ne.Timeout(); timeout != (f.Kind == mockctl.KindCommitDelay) {
				t.Fatalf("client error %v (timeout %v)", err, timeout)
			}
			srv.Close() // waits for the handler; the client leaving ends the delay
			custs, want := s.Customers(), 1
			if tt.endpoint == EndpointBatchSave {
				want = 2
			}
			if len(custs) != want || custs[0].F_out_id != "AG1" {
				t.Fatalf("customers after the unanswered call: %+v", custs)
			}
		})
	}
}

// commit_delay with a delay shorter than the client's patience answers normally, late.
func TestCommitDelayAnswersLate(t *testing.T) {
	k, s := newClient(t, 0)
	cfg := DefaultConfig()
	k.call(login, map[string]any{"acctid": cfg.AcctID, "username": cfg.Username, "password": cfg.Password, "lcid": 2052})
	ctl := mockctl.New(k.base, nil)
	if err := ctl.SetFault(context.Background(), mockctl.Fault{Endpoint: EndpointSave, Kind: mockctl.KindCommitDelay, LatencyMS: 50, Count: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, body := k.call(save, map[string]any{"formid": "BD_Customer", "data": map[string]any{"Model": map[string]any{"FCUSTID": 0, "FName": "迟到"}}})
	if !strings.Contains(body, `"IsSuccess":true`) || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("answer after %s: %s", time.Since(start), body)
	}
	if len(s.Customers()) != 1 {
		t.Fatalf("customers: %+v", s.Customers())
	}
}

// invalid_utf8 answers a query whose Chinese names are invalid UTF-8, in well-formed JSON.
func TestInvalidUTF8Answer(t *testing.T) {
	k, _ := newClient(t, 3)
	cfg := DefaultConfig()
	k.call(login, map[string]any{"acctid": cfg.AcctID, "username": cfg.Username, "password": cfg.Password, "lcid": 2052})
	if err := mockctl.New(k.base, nil).SetFault(context.Background(), mockctl.Fault{Endpoint: EndpointQuery, Kind: mockctl.KindInvalidUTF8, Count: 1}); err != nil {
		t.Fatal(err)
	}
	q := map[string]any{"data": map[string]any{"FormId": "BD_Customer", "FieldKeys": "FCUSTID,FName"}}
	_, bad := k.call(query, q)
	_, good := k.call(query, q)
	if utf8.ValidString(bad) || !json.Valid([]byte(bad)) || len(bad) != len(good) || !utf8.ValidString(good) {
		t.Fatalf("faulty answer %q, next answer %q", bad, good)
	}
}
