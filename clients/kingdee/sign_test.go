package kingdee

import "testing"

func TestSignatureVectorFromSpec(t *testing.T) {
	const appID = "204399_72epSbtEQMC92Vwt2d3LRa9LRqSc1tqJ"
	secret, err := ClientSecret(appID)
	if err != nil || secret != "31ecfd13effe724e7e78fc17f8f94b66" {
		t.Fatalf("client secret = %q, %v", secret, err)
	}
	h, err := SignHeaders(SignParams{
		AppID: appID, AppSecret: "fb7d46647ac346dbb5fcd45b65512a45", AcctID: "5db25ac8d2b819", Username: "webapi",
		LCID: 2052, OrgNum: "0", Timestamp: "1700000000", Nonce: "1700000000",
		Path: "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"X-Api-Signature":    "ZTJhY2RiZTYxNmFhZDMxN2MyZmU2ZTMxN2I0ZmFjZGE2ZGVlMTgyNTM4YzdkOTNlYzFlNzhmZGU1M2E4YTRmNg==",
		"X-Kd-Appdata":       "NWRiMjVhYzhkMmI4MTksd2ViYXBpLDIwNTIsMA==",
		"X-Kd-Signature":     "OWQ2YWVhM2JmOGVlYWEzYjVlZGI0NzM3MjlmYzA4NTkyYjhiMTAwNTgxODk5MmQ5NWIxMzBjZTQxNjk5ZWFiYg==",
		"X-Api-ClientID":     "204399",
		"X-Kd-Appkey":        appID,
		"X-Api-Auth-Version": "2.0",
		"X-Api-Signheaders":  "x-api-timestamp,x-api-nonce",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, err := ClientSecret("nounderscore"); err == nil {
		t.Fatal("malformed AppID accepted")
	}
}
