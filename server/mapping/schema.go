package mapping

// optionKind is the YAML type a target call option takes.
type optionKind int

const (
	optBool optionKind = iota
	optInt
	optString
	optStrings
)

// schema is what a flow's spec is validated against: the source fields its templates may read, the
// parameters of the source call, the target call and the target fields it may write.
type schema struct {
	source  map[string]bool // header fields (Kingdee FieldKeys, Zhilong response fields)
	entry   map[string]bool // sub-record fields (Kingdee FT_BD_CUSTCONTACT)
	request map[string]bool // the source call's parameters (the seed's request table)
	// requestVars are the run variables the source call's parameters may use (nil: all of them);
	// keysetRequest says the flow reads in keyset pages, rendering its request once (keysetRequestCheck).
	requestVars   map[string]bool
	keysetRequest bool
	target        map[string]bool
	baseData      map[string]bool // target fields that are Kingdee base-data references (ref required)
	// plain are target fields known to hold text, numbers or flags (ref refused); a target field in
	// neither set (a custom F_… field) may be written either way.
	plain    map[string]bool
	reserved map[string]string
	required []string
	// operation is the only target call the gateway implements for the flow.
	operation string
	options   map[string]optionKind
	// createOnly are target fields the target takes only when a record is created (their update
	// policy is keep); alwaysSent are fields every call carries (the call's own bookkeeping, no
	// update policy); readsTarget says whether the flow can read the target before an update (the
	// if_empty policy).
	createOnly, alwaysSent map[string]bool
	readsTarget            bool
}

func set(lists ...[]string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lists {
		for _, s := range l {
			m[s] = true
		}
	}
	return m
}

// variables are the run variables every template may use.
var variables = map[string]bool{
	"LAST_SYNC_TIME": true, "CURRENT_TIME": true,
	"PAGINATION_PAGE_SIZE": true, "PAGINATION_START_ROW": true, "PAGINATION_START_PAGE": true,
}

// kingdeeSaveOptions are the Save/BatchSave data options (vendors.md §1) besides Model.
var kingdeeSaveOptions = map[string]optionKind{
	"IsAutoSubmitAndAudit": optBool, "IsVerifyBaseDataField": optBool, "IsDeleteEntry": optBool,
	"ValidateFlag": optBool, "NumberSearch": optBool, "IsEntryBatchFill": optBool,
	"BatchCount": optInt, "InterationFlags": optString, "NeedReturnFields": optStrings,
}

// schemas are the two flows' schemas, read from the seed documents and vendors.md (never modified).
var schemas = map[string]*schema{
	"customers": {
		source: set(customerSeedFields, []string{
			// Read by the flow besides the seed's response list (vendors.md §1, BD_Customer).
			"FModifyDate", "FCreateDate", "FDocumentStatus", "FForbidStatus", "FCreateOrgId.FName", "FUseOrgId.FName",
			"FCreateOrgId", "FUseOrgId", "F_out_id", "F_KHLX", "FTRADINGCURRID.FNumber", "FGroup.FName",
		}),
		// The address sub-record FT_BD_CUSTCONTACT (one row per address; the flow picks the default
		// one) and its contact person.
		entry: set([]string{"FNUMBER1", "FNAME1", "FADDRESS1", "FMOBILE", "FIsDefaultConsignee",
			"FTContact.FName", "FTContact.FNumber", "FTContact.FMobile"}),
		request: set([]string{"Limit", "StartRow", "TopRowCount", "FilterString", "FieldKeys", "FormId", "OrderString"}),
		// The request is rendered once, at start-up: a keyset read resumes from its cursor, not from
		// a time or page number bound per call.
		requestVars:   set([]string{"PAGINATION_PAGE_SIZE", "PAGINATION_START_ROW"}),
		keysetRequest: true,
		target: set([]string{"actionType", "address", "balance_deduct_type", "distributorCode", "distributorCompanyName",
			"distributorName", "mobile", "contact", "distributorLevelName"}),
		baseData: map[string]bool{},
		// Greatonce has no base data: every field is plain.
		plain:     set([]string{"actionType", "address", "balance_deduct_type", "distributorCode", "distributorCompanyName", "distributorName", "mobile", "contact", "distributorLevelName"}),
		required:  []string{"actionType", "distributorCode", "distributorName"},
		operation: "greatonce.distributor.single.sync",
		options:   map[string]optionKind{},
		// Every call names its action, the distributor and its name (required by Greatonce).
		alwaysSent: set([]string{"actionType", "distributorCode", "distributorName"}),
	},
	"agents": {
		source:  set(agentSeedFields),
		entry:   map[string]bool{},
		request: set([]string{"updateTimeStart", "updateTimeEnd"}),
		target: set([]string{"FCUSTID", "FName", "FNumber", "FShortName", "FCreateOrgId", "FUseOrgId", "FDescription",
			"FTRADINGCURRID", "FADDRESS", "FTEL", "FZIP", "FFAX", "FWEBSITE", "FINVOICETITLE", "FTAXREGISTERCODE",
			"FINVOICEBANKNAME", "FINVOICETEL", "FINVOICEBANKACCOUNT", "FINVOICEADDRESS", "F_out_id", "F_KHLX", "FGroup",
			"FCustTypeId", "FSALDEPTID", "FSELLER", "FSETTLETYPEID", "FRECCONDITIONID", "FPRICELISTID", "F_FML_Combo",
			"F_FML_Combo1"}),
		baseData: set([]string{"FCreateOrgId", "FUseOrgId", "FTRADINGCURRID", "FGroup", "FCustTypeId", "FSALDEPTID",
			"FSELLER", "FSETTLETYPEID", "FRECCONDITIONID", "FPRICELISTID"}),
		// BD_Customer's own text fields. Custom fields (F_KHLX, F_FML_Combo…) are neither: whether one is
		// base data depends on how the server defines it, so the spec decides (ref: or not).
		plain: set([]string{"FName", "FNumber", "FShortName", "FDescription", "FADDRESS", "FTEL", "FZIP", "FFAX", "FWEBSITE",
			"FINVOICETITLE", "FTAXREGISTERCODE", "FINVOICEBANKNAME", "FINVOICETEL", "FINVOICEBANKACCOUNT", "FINVOICEADDRESS", "F_out_id"}),
		reserved: map[string]string{
			"FCUSTID": "FCUSTID is set by the gateway (0 to create, the mapped customer id to update)",
		},
		// FName is Kingdee's 客户名称 (a required field); F_out_id is how the gateway finds an agent's
		// customer in Kingdee.
		required:  []string{"FName", "F_out_id"},
		operation: "BD_Customer BatchSave",
		options:   kingdeeSaveOptions,
		// A customer's creating and using organisations are fixed once it exists (Kingdee allocates a
		// customer to other organisations with a separate operation, not by saving it again).
		createOnly:  set([]string{"FCreateOrgId", "FUseOrgId"}),
		alwaysSent:  map[string]bool{},
		readsTarget: true,
	},
}
