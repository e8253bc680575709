package engine

import (
	"strings"
	"testing"
)

func TestPreviewDiffGoesInsideBaseDataReferences(t *testing.T) {
	old := []byte(`{"FName":"A","FUseOrgId":{"FNumber":"100"},"FCreditAmount":100,"FGone":"x"}`)
	new := []byte(`{"FName":"A","FUseOrgId":{"FNumber":"200"},"FCreditAmount":100,"FNew":true}`)
	got := diffJSON(old, new)
	var fields []string
	for _, c := range got {
		fields = append(fields, c.Field)
	}
	if strings.Join(fields, ",") != "FGone,FNew,FUseOrgId.FNumber" {
		t.Fatalf("diff fields %v (FName and FCreditAmount are unchanged)", fields)
	}
	if got[2].Old != "100" || got[2].New != "200" || got[0].New != nil || got[1].New != true {
		t.Fatalf("diff %+v", got)
	}
}
