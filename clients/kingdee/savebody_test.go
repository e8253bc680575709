package kingdee

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// genModel renders a random customer-like model the way the mapping does (sorted keys, no HTML
// escaping), with now and then what json.Marshal must rewrite: <, >, &, U+2028, whitespace.
func genModel(rng *rand.Rand) json.RawMessage {
	texts := []string{"广州天河商贸有限公司", "A&B <Co>", "line\u2028sep\u2029", `quote "x" \ back`, "tab\tnl\n", "", "é😀", "\x7f\u00a0"}
	m := map[string]any{"FCUSTID": rng.IntN(3) * 100001}
	for i := range rng.IntN(20) {
		var v any
		switch rng.IntN(7) {
		case 0:
			v = texts[rng.IntN(len(texts))]
		case 1:
			v = map[string]any{"FNumber": fmt.Sprintf("C%03d", rng.IntN(1000))}
		case 2:
			v = rng.Float64() * 1e6
		case 3:
			v = rng.IntN(2) == 0
		case 4:
			v = nil
		case 5:
			v = []any{map[string]any{"FContact": texts[rng.IntN(len(texts))], "FSeq": i}, -1.5e-7}
		default:
			v = fmt.Sprintf("F%d", rng.Int64())
		}
		m[fmt.Sprintf("F%s%d", texts[rng.IntN(len(texts))], i)] = v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if rng.IntN(4) == 0 {
		enc.SetIndent(" ", "\t")
	}
	if err := enc.Encode(m); err != nil {
		panic(err)
	}
	b := buf.Bytes()
	if rng.IntN(2) == 0 {
		b = bytes.TrimSuffix(b, []byte("\n"))
	}
	return b
}

func genSaveRequest(rng *rand.Rand) SaveRequest {
	req := SaveRequest{FormID: "BD_Customer", IsAutoSubmitAndAudit: rng.IntN(2) == 0, IsVerifyBaseDataField: rng.IntN(2) == 0}
	if rng.IntN(5) == 0 {
		req.FormID = "BD_<Cust>&\u2028é"
	}
	for range rng.IntN(4) {
		req.NeedUpDateFields = append(req.NeedUpDateFields, []string{"FName", "FShortName", "F<x>", "F\"q\"", "F\x01"}[rng.IntN(5)])
	}
	if rng.IntN(3) == 0 {
		req.NeedReturnFields = []string{"FNumber", "FCUSTID"}
	}
	if rng.IntN(3) == 0 {
		b := rng.IntN(2) == 0
		req.IsDeleteEntry = &b
	}
	for range 1 + rng.IntN(30) {
		req.Models = append(req.Models, genModel(rng))
	}
	return req
}

// TestSaveBodyEqualsMarshal: for many generated requests, the body is byte for byte the one
// json.Marshal renders, for BatchSave's array, Save's single model and a resend's subset.
func TestSaveBodyEqualsMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for n := range 2000 {
		req := genSaveRequest(rng)
		models := []any{req.Models, req.Models[0], subset(req, []int{len(req.Models) - 1, 0})}
		for _, model := range models {
			want, err := marshalSaveBody(req, model)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := appendSaveBody(nil, req, model)
			if !ok {
				t.Fatalf("request %d: fast path refused valid models %s", n, req.Models)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("request %d:\n got %s\nwant %s", n, got, want)
			}
			if got, err := saveBody(req, model); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("saveBody: %s, %v", got, err)
			}
		}
	}
}

// TestSaveBodyInvalidModel: a model that is not JSON fails as it did with json.Marshal, and the
// map path still encodes through json.Marshal.
func TestSaveBodyInvalidModel(t *testing.T) {
	for _, bad := range []string{``, `{`, `{"a":1}x`, `{"a":01}`, `{"a":"\x01"}`, `{"a":"\q"}`, `[1,]`, `{"a" 1}`, `tru`, `"\u12G4"`, `1.`, `-`, `1e`, `{"a":1,}`} {
		req := SaveRequest{FormID: "BD_Customer", Models: []json.RawMessage{json.RawMessage(bad)}}
		if _, ok := appendSaveBody(nil, req, req.Models); ok {
			t.Errorf("%q accepted", bad)
		}
		if _, err := saveBody(req, req.Models); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	req := SaveRequest{FormID: "BD_Customer", Model: []map[string]any{{"FName": "<A>"}}}
	got, err := saveBody(req, req.Model)
	if want := `{"data":{"Model":[{"FName":"\u003cA\u003e"}],"IsVerifyBaseDataField":false,"IsAutoSubmitAndAudit":false},"formid":"BD_Customer"}`; err != nil || string(got) != want {
		t.Fatalf("got %s, %v", got, err)
	}
	deep := json.RawMessage(strings.Repeat("[", maxModelDepth+1) + strings.Repeat("]", maxModelDepth+1))
	req = SaveRequest{FormID: "BD_Customer", Models: []json.RawMessage{deep}}
	want, _ := marshalSaveBody(req, req.Models)
	if got, err := saveBody(req, req.Models); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("deep model: %v", err)
	}
}

// FuzzAppendModel: appendModel accepts only what json.Marshal accepts in a json.RawMessage, and
// then appends exactly what it writes.
func FuzzAppendModel(f *testing.F) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 20 {
		f.Add([]byte(genModel(rng)))
	}
	for _, s := range []string{`{"a":[1,-0.5e+3,true,false,null,"\u00e9\n"]}`, ` { } `, `"<&>"`, "\"\xe2\x80\xa8\"", "\"\xff\"", `{"a":01}`, `[1,]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		want, err := json.Marshal(json.RawMessage(src))
		got, ok := appendModel([]byte("prefix"), src)
		if !ok {
			if err == nil && len(src) > 0 && json.Valid(src) && !bytes.Contains(src, []byte(strings.Repeat("[", maxModelDepth))) && !bytes.Contains(src, []byte(strings.Repeat("{", maxModelDepth))) {
				// Refusing valid input is only slower, but a valid shallow value should pass.
				t.Errorf("valid %q refused", src)
			}
			if string(got) != "prefix" {
				t.Errorf("refused input left %q", got)
			}
			return
		}
		if err != nil {
			t.Fatalf("accepted %q, which json.Marshal rejects: %v", src, err)
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("%q:\n got %q\nwant %q", src, got[len("prefix"):], want)
		}
	})
}

// BenchmarkSaveBody encodes a BatchSave body of 200 customer models, as the agents flow sends
// them, with the fast path and with json.Marshal (BenchmarkSaveBodyMarshal).
func BenchmarkSaveBody(b *testing.B) {
	benchSaveBody(b, saveBody)
}

// BenchmarkSaveBodyMarshal is the former encoding.
func BenchmarkSaveBodyMarshal(b *testing.B) {
	benchSaveBody(b, marshalSaveBody)
}

func benchSaveBody(b *testing.B, enc func(SaveRequest, any) ([]byte, error)) {
	rng := rand.New(rand.NewPCG(1, 2))
	req := SaveRequest{FormID: "BD_Customer", IsAutoSubmitAndAudit: true, NeedUpDateFields: []string{"FName", "FShortName"}}
	for i := range 200 {
		m := fmt.Sprintf(`{"FCUSTID":0,"FCreateOrgId":{"FNumber":"100"},"FCustTypeId":{"FNumber":"KHLB001_SYS"},"FGroup":{"FNumber":"%03d"},"FInvoiceTitle":"广州市天河区%d商贸有限公司","FName":"广州市天河区%d商贸有限公司","FNumber":"ZL%06d","FShortName":"天河%d","FTEL":"1%010d","FTaxRegisterCode":"91440%013d","FAddress":"广东省广州市天河区科技园路%d号"}`,
			rng.IntN(100), i, i, i, i, rng.Int64N(1e10), rng.Int64N(1e13), rng.IntN(300))
		req.Models = append(req.Models, json.RawMessage(m))
	}
	want, _ := marshalSaveBody(req, req.Models)
	b.SetBytes(int64(len(want)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := enc(req, req.Models)
		if err != nil || len(got) != len(want) {
			b.Fatal(err)
		}
	}
}
