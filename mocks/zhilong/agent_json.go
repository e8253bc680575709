package zhilong

import (
	"bytes"
	"encoding/json"
)

// seedFields are the agentInfo response fields of the seed document, in its order.
var seedFields = []string{"accountType", "agentId", "agentIdArray", "agentIds", "agentLevelId", "agentLevelName", "agentName", "agentStatus", "agentType", "agentUserId", "applyId", "approveDate", "approveUserid", "areaCode", "attr", "beginJoinDate", "belongTo", "bindingToIntroduceAgentId", "birthday", "businessLicense", "businessScope", "cardNumber", "contractId", "contractNo", "contractPerson", "createBy", "createName", "createTime", "deleteFlag", "description", "email", "endJoinDate", "extend", "files", "firstAmount", "homeLevel", "houseAddress", "houseAreaId", "houseCityId", "houseProvinceId", "houseStreetId", "isApprove", "isOver", "isParentApprove", "isTransferSign", "joinBankCode", "joinBankName", "joinCompanyCode", "joinCompanyId", "joinCompanyName", "joinDate", "joinLive", "joinPrice", "legalPerson", "manageAreaId", "manageCityId", "manageProvinceId", "margin", "mobile", "oaCode", "organizationCode", "param", "params", "parentId", "parentName", "payAreaCode", "payCompanyId", "payUserCode", "propertyId", "regAmount", "remark", "saleRoomYear", "searchValue", "sourceName", "startedIn", "tax", "telPhone", "topParentId", "totalAmount", "updateBy", "updateTime", "updateTimeEnd", "updateTimeStart", "userId", "userName", "vipLive"}

// marshal serialises the agent with every seed field, RuoYi-style: BaseEntity fields included (nulls
// too), params as {}, times as yyyy-MM-dd HH:mm:ss.
func (a *Agent) marshal() json.RawMessage {
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
