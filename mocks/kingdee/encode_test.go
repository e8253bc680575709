package kingdee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The hand-encoded ExecuteBillQuery and Save/BatchSave answers must carry the bytes c.JSON gives for
// the same values; ?pretty still takes the c.JSON path, so the two can be compared (compacted).
func TestHandEncodedAnswersMatchEncodingJSON(t *testing.T) {
	bs := newBenchServer(t, 500)
	bs.s.mu.Lock()
	for i, w := range []string{"a<b>&c", "quote\" back\\slash", "ctl\x01\x1f\t\n\r", "line\u2028sep\u2029", "bad\xffutf8", ""} {
		c := bs.s.custs[int64(100001+i)]
		c.Name, c.Address, c.OutID = w, w, fmt.Sprintf("AG%d", i)
		bs.s.byOutID[c.OutID] = c
	}
	bs.s.mu.Unlock()
	post := func(service, query string, body []byte) []byte {
		req := httptest.NewRequest(http.MethodPost, "/k3cloud/"+service+".common.kdsvc"+query, bytes.NewReader(body))
		req.Header.Set("Cookie", bs.cookie)
		rec := httptest.NewRecorder()
		bs.s.ServeHTTP(rec, req)
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		return rec.Body.Bytes()
	}
	same := func(name, service string, body []byte) {
		t.Helper()
		hand := post(service, "", body)
		var pretty bytes.Buffer
		if err := json.Compact(&pretty, post(service, "?pretty", body)); err != nil {
			t.Fatal(err)
		}
		if string(hand) != pretty.String()+"\n" {
			t.Errorf("%s:\nhand:   %.600s\nc.JSON: %.600s", name, hand, pretty.String())
		}
	}
	for _, q := range []struct{ keys, filter, order string }{
		{customerHeaderKeys, keysetFilter(bs.s, 10), "FModifyDate ASC, FCUSTID ASC"},
		{customerEntryKeys, "FCUSTID in (100001, 100002, 100003, 100004, 100005, 100006, 100012)", "FCUSTID ASC"},
		{"FCUSTID,F_out_id,FName,FADDRESS,FCreateDate,FIsDefaultConsignee,FTContact,FUseOrgId,FGroup.FName,FIsTrade", "", "FName desc"},
		{"FCUSTID,F_out_id", "F_out_id in ('AG0', 'AG1', 'AG2', 'AG3', 'AG4', 'AG5', 'nope')", ""},
		{"FCUSTID", "FCUSTID = 1", ""},
	} {
		same(q.filter, query, queryBody(q.keys, q.filter, q.order, 0))
	}
	models := agentModels(5, 100001)
	models[1]["FName"] = ""
	models[3]["FCreateOrgId"] = map[string]any{"FNumber": "999"}
	models = append(models, map[string]any{"FCUSTID": 999})
	b, _ := json.Marshal(map[string]any{"formid": "BD_Customer", "data": map[string]any{"Model": models}})
	same("BatchSave with failures", batch, b)
	b, _ = json.Marshal(map[string]any{"formid": "BD_Customer", "data": map[string]any{"Model": agentModels(3, 100010)}})
	same("BatchSave", batch, b)
	b, _ = json.Marshal(map[string]any{"formid": "BD_Customer", "data": map[string]any{"Model": agentModels(1, 100020)[0]}})
	same("Save", "Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save", b)
}
