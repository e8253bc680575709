package zhilong

import (
	"github.com/syncgate/syncgate/mocks/internal/jsonw"
)

// seedFields are the agentInfo response fields of the seed document, in its order.
var seedFields = []string{"accountType", "agentId", "agentIdArray", "agentIds", "agentLevelId", "agentLevelName", "agentName", "agentStatus", "agentType", "agentUserId", "applyId", "approveDate", "approveUserid", "areaCode", "attr", "beginJoinDate", "belongTo", "bindingToIntroduceAgentId", "birthday", "businessLicense", "businessScope", "cardNumber", "contractId", "contractNo", "contractPerson", "createBy", "createName", "createTime", "deleteFlag", "description", "email", "endJoinDate", "extend", "files", "firstAmount", "homeLevel", "houseAddress", "houseAreaId", "houseCityId", "houseProvinceId", "houseStreetId", "isApprove", "isOver", "isParentApprove", "isTransferSign", "joinBankCode", "joinBankName", "joinCompanyCode", "joinCompanyId", "joinCompanyName", "joinDate", "joinLive", "joinPrice", "legalPerson", "manageAreaId", "manageCityId", "manageProvinceId", "margin", "mobile", "oaCode", "organizationCode", "param", "params", "parentId", "parentName", "payAreaCode", "payCompanyId", "payUserCode", "propertyId", "regAmount", "remark", "saleRoomYear", "searchValue", "sourceName", "startedIn", "tax", "telPhone", "topParentId", "totalAmount", "updateBy", "updateTime", "updateTimeEnd", "updateTimeStart", "userId", "userName", "vipLive"}

// agentField appends one modelled field's JSON value.
type agentField func(dst []byte, a *Agent) []byte

// modelled are the seed fields the mock models; every other field is a constant (see constValue).
var modelled = map[string]agentField{
	"agentId":        func(d []byte, a *Agent) []byte { return jsonw.String(d, a.AgentID) },
	"agentName":      func(d []byte, a *Agent) []byte { return jsonw.String(d, a.AgentName) },
	"agentLevelId":   func(d []byte, a *Agent) []byte { return jsonw.String(d, a.AgentLevelID) },
	"agentLevelName": func(d []byte, a *Agent) []byte { return jsonw.String(d, a.AgentLevelName) },
	"mobile":         func(d []byte, a *Agent) []byte { return jsonw.String(d, a.Mobile) },
	"houseAddress":   func(d []byte, a *Agent) []byte { return jsonw.String(d, a.HouseAddress) },
	"remark":         func(d []byte, a *Agent) []byte { return jsonw.String(d, a.Remark) },
	"legalPerson":    func(d []byte, a *Agent) []byte { return jsonw.String(d, a.LegalPerson) },
	"contractPerson": func(d []byte, a *Agent) []byte { return jsonw.String(d, a.ContractPerson) },
	"email":          func(d []byte, a *Agent) []byte { return jsonw.String(d, a.Email) },
	"agentStatus":    func(d []byte, a *Agent) []byte { return jsonw.String(d, a.AgentStatus) },
	// Formatted times are digits, dashes, colons and a space: nothing to escape.
	"createTime": func(d []byte, a *Agent) []byte {
		return append(a.CreateTime.AppendFormat(append(d, '"'), timeLayout), '"')
	},
	"updateTime": func(d []byte, a *Agent) []byte {
		return append(a.UpdateTime.AppendFormat(append(d, '"'), timeLayout), '"')
	},
}

// constValue is the JSON of an unmodelled field: RuoYi's BaseEntity defaults, params as {}, null.
func constValue(f string) string {
	switch f {
	case "createBy", "updateBy":
		return `"admin"`
	case "deleteFlag":
		return `"0"`
	case "params":
		return "{}"
	}
	return "null"
}

// rowTemplate is an agent's JSON as constant text between the modelled fields' values: consts[i]
// precedes fields[i], and the last const closes the object.
var rowTemplate = func() (t struct {
	consts [][]byte
	fields []agentField
}) {
	cur := []byte{'{'}
	for i, f := range seedFields {
		if i > 0 {
			cur = append(cur, ',')
		}
		cur = append(jsonw.String(cur, f), ':')
		if fn, ok := modelled[f]; ok {
			t.consts = append(t.consts, cur)
			t.fields = append(t.fields, fn)
			cur = nil
			continue
		}
		cur = append(cur, constValue(f)...)
	}
	t.consts = append(t.consts, append(cur, '}'))
	return t
}()

// appendJSON appends the agent with every seed field, RuoYi-style: BaseEntity fields included (nulls
// too), params as {}, times as yyyy-MM-dd HH:mm:ss. The bytes are those encoding/json gives for the
// same values.
func (a *Agent) appendJSON(dst []byte) []byte {
	for i, fn := range rowTemplate.fields {
		dst = fn(append(dst, rowTemplate.consts[i]...), a)
	}
	return append(dst, rowTemplate.consts[len(rowTemplate.consts)-1]...)
}
