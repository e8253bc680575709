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

	// Raw is the row exactly as the server sent it.
	Raw json.RawMessage `json:"-"`
}
