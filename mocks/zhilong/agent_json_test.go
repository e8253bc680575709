package zhilong

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// marshalReflect is the reference encoding: every seed field through encoding/json.
func (a *Agent) marshalReflect() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range seedFields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + f + `":`)
		var v any
		switch f {
		case "agentId":
			v = a.AgentID
		case "agentName":
			v = a.AgentName
		case "agentLevelId":
			v = a.AgentLevelID
		case "agentLevelName":
			v = a.AgentLevelName
		case "mobile":
			v = a.Mobile
		case "houseAddress":
			v = a.HouseAddress
		case "remark":
			v = a.Remark
		case "legalPerson":
			v = a.LegalPerson
		case "contractPerson":
			v = a.ContractPerson
		case "email":
			v = a.Email
		case "agentStatus":
			v = a.AgentStatus
		case "createTime":
			v = a.CreateTime.Format(timeLayout)
		case "updateTime":
			v = a.UpdateTime.Format(timeLayout)
		case "createBy", "updateBy":
			v = "admin"
		case "deleteFlag":
			v = "0"
		case "params":
			b.WriteString("{}")
			continue
		}
		enc, _ := json.Marshal(v)
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func TestAgentJSONMatchesEncodingJSON(t *testing.T) {
	s := New(DefaultConfig())
	s.Seed(50, 3)
	agents := s.Agents()
	for i, w := range []string{"a<b>&c", "quote\" back\\slash", "ctl\x01\x1f\t\n\r\x7f", "line\u2028sep\u2029", "bad\xffutf8\xc3", "", "中文 😀"} {
		a := &agents[i]
		a.AgentName, a.HouseAddress, a.Remark, a.Email, a.Mobile, a.LegalPerson = w, w+"x", w, w, w, w
		a.UpdateTime = time.Date(2026, 12, 31, 23, 59, 59, 999, gmt8)
	}
	for i := range agents {
		a := &agents[i]
		if got, want := a.appendJSON(nil), a.marshalReflect(); !bytes.Equal(got, want) {
			t.Fatalf("agent %s:\ngot  %s\nwant %s", a.AgentID, got, want)
		}
	}
}
