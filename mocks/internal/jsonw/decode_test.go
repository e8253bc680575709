package jsonw

import (
	"encoding/json"
	"reflect"
	"testing"
)

var decodeCases = []string{`null`, `true`, `false`, `0`, `-1.5e3`, `1e400`, `"x"`, `"a\"b\\c\u00e9\ud800\udc00\ud800"`, "\"bad\xff\"",
	`"中文"`, `[]`, `{}`, `[1,"a",null,{"k":[true,false]}]`, ` { "a" : 1 , "a" : 2 , "b":{"c":{}} } `, `{"x":1}{`, `[1,]`,
	`{"a":1e999}`, `{"Model":[{"FCUSTID":0,"FName":"名","FCreateOrgId":{"FNumber":"100"}}],"NeedUpDateFields":["FName",5]}`,
	`"\u2028"`, `-0`, `1E+2`, ``, ` `, `nul`, `[1 2]`, `{"a" 1}`, "\"ctl\x01\"", `{"":""}`}

func sameAsUnmarshal(t *testing.T, data string) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal([]byte(data), &want)
	got, err := Decode([]byte(data))
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %#v, encoding/json %#v", data, got, want)
	}
}

func TestDecodeMatchesUnmarshal(t *testing.T) {
	for _, c := range decodeCases {
		sameAsUnmarshal(t, c)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases {
		f.Add(c)
	}
	f.Fuzz(sameAsUnmarshal)
}
