package zhilong

import "encoding/json"

// Agent is one row of /api/agentInfo/list with every field the seed lists,
// in the seed's order. The seed types all of them as string except
// agentIdArray and params (objects), which are kept as raw JSON. Decoding is
// tolerant: a number, string, boolean or null arrives as its text (null and
// absent as ""), an object or array in a string field as its JSON text.
type Agent struct {
	AccountType               string          `json:"accountType"`
	AgentID                   string          `json:"agentId"`
	AgentIDArray              json.RawMessage `json:"agentIdArray"`
	AgentIDs                  string          `json:"agentIds"`
	AgentLevelID              string          `json:"agentLevelId"`
	AgentLevelName            string          `json:"agentLevelName"`
	AgentName                 string          `json:"agentName"`
	AgentStatus               string          `json:"agentStatus"`
	AgentType                 string          `json:"agentType"`
	AgentUserID               string          `json:"agentUserId"`
	ApplyID                   string          `json:"applyId"`
	ApproveDate               string          `json:"approveDate"`
	ApproveUserID             string          `json:"approveUserid"`
	AreaCode                  string          `json:"areaCode"`
	Attr                      string          `json:"attr"`
	BeginJoinDate             string          `json:"beginJoinDate"`
	BelongTo                  string          `json:"belongTo"`
	BindingToIntroduceAgentID string          `json:"bindingToIntroduceAgentId"`
	Birthday                  string          `json:"birthday"`
	BusinessLicense           string          `json:"businessLicense"`
	BusinessScope             string          `json:"businessScope"`
	CardNumber                string          `json:"cardNumber"`
	ContractID                string          `json:"contractId"`
	ContractNo                string          `json:"contractNo"`
	ContractPerson            string          `json:"contractPerson"`
	CreateBy                  string          `json:"createBy"`
	CreateName                string          `json:"createName"`
	CreateTime                string          `json:"createTime"`
	DeleteFlag                string          `json:"deleteFlag"`
	Description               string          `json:"description"`
	Email                     string          `json:"email"`
	EndJoinDate               string          `json:"endJoinDate"`
	Extend                    string          `json:"extend"`
	Files                     string          `json:"files"`
	FirstAmount               string          `json:"firstAmount"`
	HomeLevel                 string          `json:"homeLevel"`
	HouseAddress              string          `json:"houseAddress"`
	HouseAreaID               string          `json:"houseAreaId"`
	HouseCityID               string          `json:"houseCityId"`
	HouseProvinceID           string          `json:"houseProvinceId"`
	HouseStreetID             string          `json:"houseStreetId"`
	IsApprove                 string          `json:"isApprove"`
	IsOver                    string          `json:"isOver"`
	IsParentApprove           string          `json:"isParentApprove"`
	IsTransferSign            string          `json:"isTransferSign"`
	JoinBankCode              string          `json:"joinBankCode"`
	JoinBankName              string          `json:"joinBankName"`
	JoinCompanyCode           string          `json:"joinCompanyCode"`
	JoinCompanyID             string          `json:"joinCompanyId"`
	JoinCompanyName           string          `json:"joinCompanyName"`
	JoinDate                  string          `json:"joinDate"`
	JoinLive                  string          `json:"joinLive"`
	JoinPrice                 string          `json:"joinPrice"`
	LegalPerson               string          `json:"legalPerson"`
	ManageAreaID              string          `json:"manageAreaId"`
	ManageCityID              string          `json:"manageCityId"`
	ManageProvinceID          string          `json:"manageProvinceId"`
	Margin                    string          `json:"margin"`
	Mobile                    string          `json:"mobile"`
	OACode                    string          `json:"oaCode"`
	OrganizationCode          string          `json:"organizationCode"`
	Param                     string          `json:"param"`
	Params                    json.RawMessage `json:"params"`
	ParentID                  string          `json:"parentId"`
	ParentName                string          `json:"parentName"`
	PayAreaCode               string          `json:"payAreaCode"`
	PayCompanyID              string          `json:"payCompanyId"`
	PayUserCode               string          `json:"payUserCode"`
	PropertyID                string          `json:"propertyId"`
	RegAmount                 string          `json:"regAmount"`
	Remark                    string          `json:"remark"`
	SaleRoomYear              string          `json:"saleRoomYear"`
	SearchValue               string          `json:"searchValue"`
	SourceName                string          `json:"sourceName"`
	StartedIn                 string          `json:"startedIn"`
	Tax                       string          `json:"tax"`
	TelPhone                  string          `json:"telPhone"`
	TopParentID               string          `json:"topParentId"`
	TotalAmount               string          `json:"totalAmount"`
	UpdateBy                  string          `json:"updateBy"`
	UpdateTime                string          `json:"updateTime"`
	UpdateTimeEnd             string          `json:"updateTimeEnd"`
	UpdateTimeStart           string          `json:"updateTimeStart"`
	UserID                    string          `json:"userId"`
	UserName                  string          `json:"userName"`
	VipLive                   string          `json:"vipLive"`

	// Raw is the row exactly as the server sent it. Raw, AgentIDArray and
	// Params share memory with the response body: treat them as read-only.
	Raw json.RawMessage `json:"-"`
}

// agentField is one JSON field of [Agent]: its name and an accessor for
// exactly one of its two kinds, a string or a raw JSON field.
type agentField struct {
	name string
	str  func(*Agent) *string
	raw  func(*Agent) *json.RawMessage
}

// agentFieldTable lists Agent's JSON fields in struct order. It replaces
// reflection in decoding and in [Agent.Fields]; TestAgentFieldTable checks
// it against the struct tags, so a field added to Agent must be added here.
var agentFieldTable = [...]agentField{
	{name: "accountType", str: func(a *Agent) *string { return &a.AccountType }},
	{name: "agentId", str: func(a *Agent) *string { return &a.AgentID }},
	{name: "agentIdArray", raw: func(a *Agent) *json.RawMessage { return &a.AgentIDArray }},
	{name: "agentIds", str: func(a *Agent) *string { return &a.AgentIDs }},
	{name: "agentLevelId", str: func(a *Agent) *string { return &a.AgentLevelID }},
	{name: "agentLevelName", str: func(a *Agent) *string { return &a.AgentLevelName }},
	{name: "agentName", str: func(a *Agent) *string { return &a.AgentName }},
	{name: "agentStatus", str: func(a *Agent) *string { return &a.AgentStatus }},
	{name: "agentType", str: func(a *Agent) *string { return &a.AgentType }},
	{name: "agentUserId", str: func(a *Agent) *string { return &a.AgentUserID }},
	{name: "applyId", str: func(a *Agent) *string { return &a.ApplyID }},
	{name: "approveDate", str: func(a *Agent) *string { return &a.ApproveDate }},
	{name: "approveUserid", str: func(a *Agent) *string { return &a.ApproveUserID }},
	{name: "areaCode", str: func(a *Agent) *string { return &a.AreaCode }},
	{name: "attr", str: func(a *Agent) *string { return &a.Attr }},
	{name: "beginJoinDate", str: func(a *Agent) *string { return &a.BeginJoinDate }},
	{name: "belongTo", str: func(a *Agent) *string { return &a.BelongTo }},
	{name: "bindingToIntroduceAgentId", str: func(a *Agent) *string { return &a.BindingToIntroduceAgentID }},
	{name: "birthday", str: func(a *Agent) *string { return &a.Birthday }},
	{name: "businessLicense", str: func(a *Agent) *string { return &a.BusinessLicense }},
	{name: "businessScope", str: func(a *Agent) *string { return &a.BusinessScope }},
	{name: "cardNumber", str: func(a *Agent) *string { return &a.CardNumber }},
	{name: "contractId", str: func(a *Agent) *string { return &a.ContractID }},
	{name: "contractNo", str: func(a *Agent) *string { return &a.ContractNo }},
	{name: "contractPerson", str: func(a *Agent) *string { return &a.ContractPerson }},
	{name: "createBy", str: func(a *Agent) *string { return &a.CreateBy }},
	{name: "createName", str: func(a *Agent) *string { return &a.CreateName }},
	{name: "createTime", str: func(a *Agent) *string { return &a.CreateTime }},
	{name: "deleteFlag", str: func(a *Agent) *string { return &a.DeleteFlag }},
	{name: "description", str: func(a *Agent) *string { return &a.Description }},
	{name: "email", str: func(a *Agent) *string { return &a.Email }},
	{name: "endJoinDate", str: func(a *Agent) *string { return &a.EndJoinDate }},
	{name: "extend", str: func(a *Agent) *string { return &a.Extend }},
	{name: "files", str: func(a *Agent) *string { return &a.Files }},
	{name: "firstAmount", str: func(a *Agent) *string { return &a.FirstAmount }},
	{name: "homeLevel", str: func(a *Agent) *string { return &a.HomeLevel }},
	{name: "houseAddress", str: func(a *Agent) *string { return &a.HouseAddress }},
	{name: "houseAreaId", str: func(a *Agent) *string { return &a.HouseAreaID }},
	{name: "houseCityId", str: func(a *Agent) *string { return &a.HouseCityID }},
	{name: "houseProvinceId", str: func(a *Agent) *string { return &a.HouseProvinceID }},
	{name: "houseStreetId", str: func(a *Agent) *string { return &a.HouseStreetID }},
	{name: "isApprove", str: func(a *Agent) *string { return &a.IsApprove }},
	{name: "isOver", str: func(a *Agent) *string { return &a.IsOver }},
	{name: "isParentApprove", str: func(a *Agent) *string { return &a.IsParentApprove }},
	{name: "isTransferSign", str: func(a *Agent) *string { return &a.IsTransferSign }},
	{name: "joinBankCode", str: func(a *Agent) *string { return &a.JoinBankCode }},
	{name: "joinBankName", str: func(a *Agent) *string { return &a.JoinBankName }},
	{name: "joinCompanyCode", str: func(a *Agent) *string { return &a.JoinCompanyCode }},
	{name: "joinCompanyId", str: func(a *Agent) *string { return &a.JoinCompanyID }},
	{name: "joinCompanyName", str: func(a *Agent) *string { return &a.JoinCompanyName }},
	{name: "joinDate", str: func(a *Agent) *string { return &a.JoinDate }},
	{name: "joinLive", str: func(a *Agent) *string { return &a.JoinLive }},
	{name: "joinPrice", str: func(a *Agent) *string { return &a.JoinPrice }},
	{name: "legalPerson", str: func(a *Agent) *string { return &a.LegalPerson }},
	{name: "manageAreaId", str: func(a *Agent) *string { return &a.ManageAreaID }},
	{name: "manageCityId", str: func(a *Agent) *string { return &a.ManageCityID }},
	{name: "manageProvinceId", str: func(a *Agent) *string { return &a.ManageProvinceID }},
	{name: "margin", str: func(a *Agent) *string { return &a.Margin }},
	{name: "mobile", str: func(a *Agent) *string { return &a.Mobile }},
	{name: "oaCode", str: func(a *Agent) *string { return &a.OACode }},
	{name: "organizationCode", str: func(a *Agent) *string { return &a.OrganizationCode }},
	{name: "param", str: func(a *Agent) *string { return &a.Param }},
	{name: "params", raw: func(a *Agent) *json.RawMessage { return &a.Params }},
	{name: "parentId", str: func(a *Agent) *string { return &a.ParentID }},
	{name: "parentName", str: func(a *Agent) *string { return &a.ParentName }},
	{name: "payAreaCode", str: func(a *Agent) *string { return &a.PayAreaCode }},
	{name: "payCompanyId", str: func(a *Agent) *string { return &a.PayCompanyID }},
	{name: "payUserCode", str: func(a *Agent) *string { return &a.PayUserCode }},
	{name: "propertyId", str: func(a *Agent) *string { return &a.PropertyID }},
	{name: "regAmount", str: func(a *Agent) *string { return &a.RegAmount }},
	{name: "remark", str: func(a *Agent) *string { return &a.Remark }},
	{name: "saleRoomYear", str: func(a *Agent) *string { return &a.SaleRoomYear }},
	{name: "searchValue", str: func(a *Agent) *string { return &a.SearchValue }},
	{name: "sourceName", str: func(a *Agent) *string { return &a.SourceName }},
	{name: "startedIn", str: func(a *Agent) *string { return &a.StartedIn }},
	{name: "tax", str: func(a *Agent) *string { return &a.Tax }},
	{name: "telPhone", str: func(a *Agent) *string { return &a.TelPhone }},
	{name: "topParentId", str: func(a *Agent) *string { return &a.TopParentID }},
	{name: "totalAmount", str: func(a *Agent) *string { return &a.TotalAmount }},
	{name: "updateBy", str: func(a *Agent) *string { return &a.UpdateBy }},
	{name: "updateTime", str: func(a *Agent) *string { return &a.UpdateTime }},
	{name: "updateTimeEnd", str: func(a *Agent) *string { return &a.UpdateTimeEnd }},
	{name: "updateTimeStart", str: func(a *Agent) *string { return &a.UpdateTimeStart }},
	{name: "userId", str: func(a *Agent) *string { return &a.UserID }},
	{name: "userName", str: func(a *Agent) *string { return &a.UserName }},
	{name: "vipLive", str: func(a *Agent) *string { return &a.VipLive }},
}

// agentFieldIndex maps a JSON name to its index in agentFieldTable.
var agentFieldIndex = func() map[string]int {
	m := make(map[string]int, len(agentFieldTable))
	for i, f := range agentFieldTable {
		m[f.name] = i
	}
	return m
}()
