package zhilong

import (
	"testing"

	"github.com/syncgate/syncgate/clients/vendor"
)

// checkFastAgrees decodes body with the fast path and with jsontext
// (decodeEnvelopeTokens): where the fast path answers, the jsontext decoder
// must succeed with the same envelope; it reports whether the fast path answered.
func checkFastAgrees(t *testing.T, body []byte, withRows bool) bool {
	t.Helper()
	body = vendor.TrimBody(body)
	var sc rowScratch
	got, ok := fastDecodeEnvelope(body, withRows, 10, &sc)
	want, err := decodeEnvelopeTokens(body, withRows, 10)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("fast path accepted %q, jsontext fails: %v", body, err)
	}
	if got.code != want.code || got.total != want.total || got.msg != want.msg || got.token != want.token ||
		got.badRow != want.badRow || got.rowErr != nil || len(got.rows) != len(want.rows) || (got.rows == nil) != (want.rows == nil) {
		t.Fatalf("%q: fast %+v, jsontext %+v", body, got, want)
	}
	for i := range got.rows {
		if d := agentDiff(got.rows[i], want.rows[i]); d != "" {
			t.Fatalf("%q: row %d: %s", body, i, d)
		}
		if cap(got.rows[i].Raw) != len(got.rows[i].Raw) {
			t.Fatalf("row %d: Raw not capped", i)
		}
	}
	return true
}

// TestFastDecodeAgrees compares the fast path with the jsontext decoder on the bench page, the
// tricky rows and envelopes of TestDecodeTrickyRows/TestDecodeEnvelope, and checks that the common
// bodies take the fast path.
func TestFastDecodeAgrees(t *testing.T) {
	for _, body := range [][]byte{benchPage(300), page(`{}`), []byte(`{"code":200,"total":0,"rows":[]}`),
		[]byte(`{"msg":"操作成功","code":200,"token":"tok-1"}`), []byte(`{"code":401,"msg":"认证失败"}`),
		[]byte(" {\"CODE\":\"200\" ,\"Total\": 3,\"rows\" : null,\"extra\":{\"a\":[1,{\"b\":-0.5e-3}],\"c\":true}}\n")} {
		for _, withRows := range []bool{true, false} {
			if !checkFastAgrees(t, body, withRows) {
				t.Errorf("%.80q (withRows %v) left to jsontext", body, withRows)
			}
		}
	}
	for _, row := range []string{
		`{"agentId":123,"margin":12.50,"tax":-0.5e+10,"regAmount":0}`,
		`{"isOver":true,"isApprove":false,"mobile":null,"params":null,"agentIdArray":null}`,
		`{"remark": {"a": [1, {"b": null}], "c": "x\"y"} ,"extend":[ "中", 2 ],"files":[]}`,
		`{"agentName":"\u4e2d\u6587\u4EE3\u7406","remark":"\ud83d\ude00 ok","attr":"\ud800x"}`,
		`{"remark":"客户要求\"加急\"处理","description":"a\\b\/c\n\t\r\b\f\u0000","agentName":"\"\""}`,
		`{"unknown":{"agentId":"inner","x":[1,2,{"y":null}]},"agentId":"7","AgentId":"case matters","other":null}`,
		"{ \"agentId\" :\t 7 ,\r\n \"agentName\" : \"x\" , \"params\" : { \"k\" : 1 } }",
		`{"agentIdArray":"1,2","params":5}`, `{"agentIdArray":[],"params":{}}`,
		`{"agentId":"1","agentId":"2","mobile":"1","mobile":null,"remark":"a\"b","remark":"c","attr":"x","attr":"\u0041","params":{"a":1},"params":null,"agentIdArray":null,"agentIdArray":[3]}`,
		`{"remark":"a\"b","remark":""}`,
		`{"agent\u0049d":"9"}`, `{"vipLive":"v","accountType":"a","userName":"u","agentId":"1","agentIds":"1,2"}`,
		"{\"agentName\":\"a\xffb\",\"remark\":\"c\xfe\\\"d\"}",
		`{"agentId":01}`, `{"agentId":"\x"}`, `{"agentId":}`, `{"agentId":1,}`, `{"agentId":"a` + "\n" + `"}`, `{"a":[1,]}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":tru}`,
	} {
		checkFastAgrees(t, page(row, `{"agentId":"next"}`), true)
	}
	for _, body := range []string{`null`, `[]`, ``, `{`, `{"code":200}x`, `{"code":200,"rows":[1]}`, `{"code":200,"msg":5}`, `{"code":200,"token":"\ud800"}`, `{"code":200,"total":01}`, `{"code":200,"total":0,}`, `{"code":401,"msg":"认证失败","rows":[1]}`} {
		if checkFastAgrees(t, []byte(body), true) {
			t.Errorf("%q: fast path answered where it must defer", body)
		}
	}
}

// FuzzFastDecode: on any body, the fast path either defers or agrees with the jsontext decoder.
//
//	go test -run XXX -fuzz FuzzFastDecode -fuzztime 60s ./clients/zhilong
func FuzzFastDecode(f *testing.F) {
	f.Add(benchPage(2), true)
	f.Add(page(`{"agentId":1,"remark":{"a":[1,2]},"agentName":"\u4e2d\"x\"","mobile":null,"isOver":true,"params":{},"agentIdArray":[1,2]}`), true)
	f.Add([]byte(`{"code":401,"msg":"认证失败","rows":[1]}`), false)
	f.Add([]byte(`{"CODE":"200","Total":"1","rows":[{"agentId":"x","agentId":null}],"rows":[{}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, withRows bool) {
		checkFastAgrees(t, body, withRows)
	})
}
