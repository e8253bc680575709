package zhilong

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/clients/vendor"
)

func TestAgentFieldTable(t *testing.T) {
	typ := reflect.TypeFor[Agent]()
	var a Agent
	v := reflect.ValueOf(&a).Elem()
	n := 0
	for i := range typ.NumField() {
		sf := typ.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if n >= len(agentFieldTable) {
			t.Fatalf("field %s is missing from agentFieldTable", sf.Name)
		}
		f := agentFieldTable[n]
		addr := v.Field(i).Addr().Pointer()
		switch {
		case f.name != name:
			t.Fatalf("agentFieldTable[%d] is %q, struct field %s is %q", n, f.name, sf.Name, name)
		case sf.Type == reflect.TypeFor[string]() && (f.str == nil || f.raw != nil || reflect.ValueOf(f.str(&a)).Pointer() != addr):
			t.Fatalf("agentFieldTable[%d] (%s) does not point at the string field %s", n, name, sf.Name)
		case sf.Type == reflect.TypeFor[json.RawMessage]() && (f.raw == nil || f.str != nil || reflect.ValueOf(f.raw(&a)).Pointer() != addr):
			t.Fatalf("agentFieldTable[%d] (%s) does not point at the raw field %s", n, name, sf.Name)
		case sf.Type != reflect.TypeFor[string]() && sf.Type != reflect.TypeFor[json.RawMessage]():
			t.Fatalf("field %s has type %s: decodeRow handles string and json.RawMessage only", sf.Name, sf.Type)
		}
		if agentFieldIndex[name] != n {
			t.Fatalf("agentFieldIndex[%q] = %d, want %d", name, agentFieldIndex[name], n)
		}
		n++
	}
	if n != len(agentFieldTable) || len(agentFieldIndex) != n {
		t.Fatalf("%d tagged fields, %d in the table, %d in the index", n, len(agentFieldTable), len(agentFieldIndex))
	}
}

// sameError reports whether two decode errors classify alike: both nil, or
// both *vendor.Error with the same kind, code, message and HTTP status (the
// wrapped cause comes from a different decoder and may be worded otherwise).
func sameError(got, want error) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	var g, w *vendor.Error
	if !errors.As(got, &g) || !errors.As(want, &w) {
		return false
	}
	return g.Kind == w.Kind && g.Code == w.Code && g.Message == w.Message && g.HTTPStatus == w.HTTPStatus && g.Vendor == w.Vendor && g.Op == w.Op
}

// checkAgainstReference decodes body as a list and as a login answer with
// the new decoder and with the reference one, and reports any difference.
func checkAgainstReference(t *testing.T, body []byte) ([]Agent, error) {
	t.Helper()
	resp := &vendor.Response{Status: 200, Body: body}
	rows, total, err := decodeList(resp, 2)
	wantRows, wantTotal, wantErr := refDecodeList(resp)
	if !sameError(err, wantErr) {
		t.Fatalf("body %q:\nerror %v\nwant  %v", body, err, wantErr)
	}
	if err == nil {
		if total != wantTotal || len(rows) != len(wantRows) {
			t.Fatalf("body %q: total %d rows %d, want %d and %d", body, total, len(rows), wantTotal, len(wantRows))
		}
		for i := range rows {
			if d := agentDiff(rows[i], wantRows[i]); d != "" {
				t.Fatalf("body %q: row %d: %s", body, i, d)
			}
			if got, want := rows[i].Fields(), refFields(wantRows[i]); !reflect.DeepEqual(got, want) {
				t.Fatalf("body %q: row %d Fields\n got %#v\nwant %#v", body, i, got, want)
			}
		}
	}
	env, lerr := decode(OpLogin, resp, false, 0)
	ref, lwant := refDecode(OpLogin, resp)
	if !sameError(lerr, lwant) {
		t.Fatalf("login body %q:\nerror %v\nwant  %v", body, lerr, lwant)
	}
	if lerr == nil && (env.token != ref.Token || env.msg != ref.Msg) {
		t.Fatalf("login body %q: token %q msg %q, want %q and %q", body, env.token, env.msg, ref.Token, ref.Msg)
	}
	return rows, err
}

// agentDiff lists the fields in which got differs from want.
func agentDiff(got, want Agent) string {
	var d []string
	for _, f := range agentFieldTable {
		switch {
		case f.str != nil && *f.str(&got) != *f.str(&want):
			d = append(d, fmt.Sprintf("%s = %q, want %q", f.name, *f.str(&got), *f.str(&want)))
		case f.raw != nil && (!bytes.Equal(*f.raw(&got), *f.raw(&want)) || (*f.raw(&got) == nil) != (*f.raw(&want) == nil)):
			d = append(d, fmt.Sprintf("%s = %q, want %q", f.name, *f.raw(&got), *f.raw(&want)))
		}
	}
	if !bytes.Equal(got.Raw, want.Raw) {
		d = append(d, fmt.Sprintf("Raw = %q, want %q", got.Raw, want.Raw))
	}
	if len(d) == 0 && !reflect.DeepEqual(got, want) {
		d = append(d, "agents differ outside the field table")
	}
	return strings.Join(d, "; ")
}

// page wraps rows in a successful list answer.
func page(rows ...string) []byte {
	return []byte(`{"code":200,"msg":"查询成功","total":` + "12" + `,"rows":[` + strings.Join(rows, ",") + `]}`)
}

// TestDecodeTrickyRows pins the tolerant decoding of rows, field by field,
// and checks every row against the former encoding/json decoder.
func TestDecodeTrickyRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  string
		want map[string]string // string fields; every other one must be ""
		ids  string            // agentIdArray, verbatim ("" = nil)
		prm  string            // params, verbatim ("" = nil)
	}{
		{name: "empty", row: `{}`},
		{name: "numbers", row: `{"agentId":123,"margin":12.50,"tax":-0.5e+10,"regAmount":0}`,
			want: map[string]string{"agentId": "123", "margin": "12.50", "tax": "-0.5e+10", "regAmount": "0"}},
		{name: "bools and null", row: `{"isOver":true,"isApprove":false,"mobile":null,"params":null,"agentIdArray":null}`,
			want: map[string]string{"isOver": "true", "isApprove": "false"}},
		{name: "object and array in string fields", row: `{"remark": {"a": [1, {"b": null}], "c": "x\"y"} ,"extend":[ "中", 2 ],"files":[]}`,
			want: map[string]string{"remark": `{"a": [1, {"b": null}], "c": "x\"y"}`, "extend": `[ "中", 2 ]`, "files": "[]"}},
		{name: "unicode escapes", row: `{"agentName":"\u4e2d\u6587\u4EE3\u7406","remark":"\ud83d\ude00 ok","attr":"\ud800x","extend":"a\udc00"}`,
			want: map[string]string{"agentName": "中文代理", "remark": "😀 ok", "attr": "\uFFFDx", "extend": "a\uFFFD"}},
		{name: "escaped quotes and controls", row: `{"remark":"客户要求\"加急\"处理","description":"a\\b\/c\n\t\r\b\f\u0000","agentName":"\"\""}`,
			want: map[string]string{"remark": `客户要求"加急"处理`, "description": "a\\b/c\n\t\r\b\f\x00", "agentName": `""`}},
		{name: "unescaped unicode", row: `{"agentName":"广州市天河区商贸有限公司","houseAddress":"广东省深圳市南山区科技园路1号"}`,
			want: map[string]string{"agentName": "广州市天河区商贸有限公司", "houseAddress": "广东省深圳市南山区科技园路1号"}},
		{name: "missing and unknown fields", row: `{"unknown":{"agentId":"inner","x":[1,2,{"y":null}]},"agentId":"7","AgentId":"case matters","other":null}`,
			want: map[string]string{"agentId": "7"}},
		{name: "whitespace", row: "{ \"agentId\" :\t 7 ,\r\n \"agentName\" : \"x\" , \"params\" : { \"k\" : 1 } }",
			want: map[string]string{"agentId": "7", "agentName": "x"}, prm: `{ "k" : 1 }`},
		{name: "raw fields", row: `{"agentIdArray":[100001, 100002],"params":{"beginTime":"2024-01-01","n":1.5}}`,
			ids: `[100001, 100002]`, prm: `{"beginTime":"2024-01-01","n":1.5}`},
		{name: "raw fields of other kinds", row: `{"agentIdArray":"1,2","params":5}`, ids: `"1,2"`, prm: `5`},
		{name: "raw fields empty", row: `{"agentIdArray":[],"params":{}}`, ids: `[]`, prm: `{}`},
		{name: "duplicates: the last wins", row: `{"agentId":"1","agentId":"2","mobile":"1","mobile":null,"remark":"a\"b","remark":"c","attr":"x","attr":"\u0041","params":{"a":1},"params":null,"agentIdArray":null,"agentIdArray":[3]}`,
			want: map[string]string{"agentId": "2", "remark": "c", "attr": "A"}, ids: `[3]`},
		{name: "escaped names", row: `{"agent\u0049d":"9","\u0061gentName":"n","agentName\u0000":"not it"}`,
			want: map[string]string{"agentId": "9", "agentName": "n"}},
		{name: "fields out of order", row: `{"vipLive":"v","accountType":"a","userName":"u","agentId":"1","agentIds":"1,2"}`,
			want: map[string]string{"vipLive": "v", "accountType": "a", "userName": "u", "agentId": "1", "agentIds": "1,2"}},
		{name: "invalid UTF-8", row: "{\"agentName\":\"a\xffb\",\"remark\":\"c\xfe\\\"d\"}",
			want: map[string]string{"agentName": "a\xffb", "remark": "c\uFFFD\"d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := checkAgainstReference(t, page(tc.row, `{"agentId":"next"}`))
			if err != nil {
				t.Fatal(err)
			}
			a := rows[0]
			for _, f := range agentFieldTable {
				if f.str == nil {
					continue
				}
				if got := *f.str(&a); got != tc.want[f.name] {
					t.Errorf("%s = %q, want %q", f.name, got, tc.want[f.name])
				}
			}
			if string(a.AgentIDArray) != tc.ids || (tc.ids == "") != (a.AgentIDArray == nil) {
				t.Errorf("agentIdArray = %q, want %q", a.AgentIDArray, tc.ids)
			}
			if string(a.Params) != tc.prm || (tc.prm == "") != (a.Params == nil) {
				t.Errorf("params = %q, want %q", a.Params, tc.prm)
			}
			if string(a.Raw) != tc.row {
				t.Errorf("Raw = %q, want %q", a.Raw, tc.row)
			}
			if rows[1].AgentID != "next" || string(rows[1].Raw) != `{"agentId":"next"}` {
				t.Errorf("next row = %+v", rows[1])
			}
			if n := cap(a.Raw); n != len(a.Raw) {
				t.Errorf("Raw has room for %d bytes beyond the row: an append would overwrite the body", n-len(a.Raw))
			}
		})
	}
}

// TestDecodeEnvelope checks the envelope's classification against the former
// decoder: code, total, msg, token, rows of the wrong kind, bodies that are
// not objects or not JSON, keys in other cases, duplicates.
func TestDecodeEnvelope(t *testing.T) {
	for _, body := range []string{
		`{"code":200,"total":2,"rows":[{"agentId":1},{"agentId":"2"}],"msg":"查询成功"}`,
		`{"code":"200","total":"2","rows":[]}`,
		` {"code":200,"total":0,"rows":null} `,
		"\xef\xbb\xbf{\"code\":200,\"total\":0}",
		`{"code":200.0,"total":0}`,
		`{"code":"\u0032\u0030\u0030","total":0}`,
		`{"code":401,"msg":"请求访问：/api/agentInfo/list，认证失败，无法访问系统资源","rows":[1]}`,
		`{"code":403,"msg":"没有权限，请联系管理员授权"}`,
		`{"code":500,"msg":"访问过于频繁，请稍候再试"}`,
		`{"code":500,"msg":"用户不存在/密码错误"}`,
		`{"code":429}`, `{"code":502}`, `{"code":503}`, `{"code":504}`, `{"code":600,"msg":"x"}`, `{"code":"4\"01"}`,
		`{"code":null,"total":1}`, `{"total":1}`, `{"code":200,"code":null}`, `{"code":null,"code":200,"total":1}`,
		`{"code":{"a":1}}`, `{"code":[200]}`, `{"code":true}`,
		`{"code":200}`, `{"code":200,"total":null}`, `{"code":200,"total":-1}`, `{"code":200,"total":1.5}`, `{"code":200,"total":"x"}`,
		`{"code":200,"total":" 3 "}`, `{"code":200,"total":99999999999999999999}`,
		`{"code":200,"total":1,"rows":[1]}`, `{"code":200,"total":1,"rows":[null]}`, `{"code":200,"total":1,"rows":[{},"x",[]]}`,
		`{"code":200,"total":1,"rows":{}}`, `{"code":200,"total":1,"rows":"x"}`, `{"code":200,"total":1,"rows":5}`,
		`{"code":200,"total":1,"rows":[1],"rows":[{"agentId":"b"}]}`, `{"code":200,"total":1,"rows":[{"agentId":"a"}],"rows":null}`,
		`{"code":200,"total":1,"rows":[{"agentId":"a"}],"rows":[1]}`,
		`{"CODE":200,"Total":1,"ROWS":[{"agentId":"a"}],"Msg":"m","TOKEN":"t"}`,
		`{"\u0063ode":200,"tota\u006c":1,"rows":[]}`, `{"to\u212aen":"kelvin","code":200,"total":0}`,
		`{"code":200,"total":0,"msg":5}`, `{"code":200,"total":0,"msg":null}`, `{"code":200,"total":0,"msg":"a","msg":null}`,
		`{"code":200,"total":0,"token":{"t":1}}`, `{"code":200,"total":0,"token":"tok-1","msg":"操作成功"}`,
		`{"code":200,"total":0,"token":"\ud800"}`, "{\"code\":200,\"total\":0,\"token\":\"a\xffb\"}",
		`{"code":200,"total":0,"extra":{"deep":[[[{"x":null}]]]},"more":[1,"2",true]}`,
		`null`, `[]`, `[{"code":200}]`, `"x"`, `5`, `true`, ``, `   `, `{`, `{"code":200,`, `{"code":200}x`, `{"code":200} {}`,
		`{"code":200,"total":1,"rows":[{"agentId":1}`, `{"code":200,"total":1,"rows":[{"agentId":}]}`, `{"code":200 "total":1}`,
		`<!DOCTYPE html><html><title>Error</title></html>`, `{'code':200}`, `{"code":200,"total":01}`, `{"code":200,"total":0,}`,
		"{\"code\":200,\"total\":0,\"msg\":\"a\nb\"}", `{"code":200,"total":0,"rows":[{"agentId":"\x"}]}`,
	} {
		checkAgainstReference(t, []byte(body))
	}
}

// TestDecodeBenchPage compares a realistic page with the reference, Fields included.
func TestDecodeBenchPage(t *testing.T) {
	rows, err := checkAgainstReference(t, benchPage(200))
	if err != nil || len(rows) != 200 {
		t.Fatal(len(rows), err)
	}
}

// FuzzDecodePage checks that decoding never panics and agrees with the
// encoding/json reference on any body, valid JSON or not.
//
//	go test -run XXX -fuzz FuzzDecodePage -fuzztime 60s ./clients/zhilong
func FuzzDecodePage(f *testing.F) {
	f.Add(benchPage(2))
	f.Add(page(`{"agentId":1,"remark":{"a":[1,2]},"agentName":"\u4e2d\"x\"","mobile":null,"isOver":true,"params":{},"agentIdArray":[1,2]}`))
	f.Add([]byte(`{"code":401,"msg":"认证失败","rows":[1]}`))
	f.Add([]byte(`{"msg":"操作成功","code":200,"token":"tok-1"}`))
	f.Add([]byte(`{"CODE":"200","Total":"1","rows":[{"agent\u0049d":"x","agentId":null}],"rows":[{}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAgainstReference(t, body)
	})
}

// FuzzDecodeRow fuzzes one row inside a well-formed page.
//
//	go test -run XXX -fuzz FuzzDecodeRow -fuzztime 60s ./clients/zhilong
func FuzzDecodeRow(f *testing.F) {
	for _, row := range []string{
		`{}`, `{"agentId":1,"margin":12.50,"isOver":false,"mobile":null}`,
		`{"remark": {"a": [1, {"b": null}]} ,"extend":["中",2],"agentIdArray":[1,2],"params":{"k":"v"}}`,
		`{"agentName":"\u4e2d\u6587","remark":"\ud83d\ude00\ud800","description":"a\"b\\c"}`,
		`{"agentId":"1","agentId":null,"params":{},"params":null,"agent\u0049d":"2"}`,
		"{\"agentName\":\"a\xffb\",\"remark\":\"c\xfe\\\"d\"}",
	} {
		f.Add([]byte(row))
	}
	f.Fuzz(func(t *testing.T, row []byte) {
		checkAgainstReference(t, page(string(row), `{"agentId":"last"}`))
	})
}

func TestFieldAgreesWithFields(t *testing.T) {
	rows, _, err := decodeList(&vendor.Response{Status: 200, Body: benchPage(3)}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		all := rows[i].Fields()
		for name, want := range all {
			if got, ok := rows[i].Field(name); !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("Field(%q) = %#v, %v; Fields has %#v", name, got, ok, want)
			}
		}
	}
	if _, ok := rows[0].Field("noSuchField"); ok {
		t.Fatal("Field of an unknown name")
	}
}
