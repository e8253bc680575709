package mapping

// schema is what a flow's spec is validated against: the source fields its templates may read, and
// the target fields it may write.
type schema struct {
	source   map[string]bool
	entry    map[string]bool
	target   map[string]bool
	required []string
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

var schemas = map[string]schema{
	"customers": {
		source: set(customerSeedFields, []string{
			// Read by the flow besides the seed's list (vendors.md §1, BD_Customer).
			"FModifyDate", "FCreateDate", "FDocumentStatus", "FForbidStatus", "FCreateOrgId.FName", "FUseOrgId.FName",
			"FCreateOrgId", "FUseOrgId", "F_out_id", "F_KHLX", "FTRADINGCURRID.FNumber", "FGroup.FName",
		}),
		// The address sub-record FT_BD_CUSTCONTACT (one row per address; the flow picks the default one).
		entry: set([]string{"FNUMBER1", "FNAME1", "FADDRESS1", "FMOBILE", "FIsDefaultConsignee",
			"FTContact.FName", "FTContact.FNumber", "FTContact.FMobile"}),
		target: set([]string{"actionType", "address", "balance_deduct_type", "distributorCode", "distributorCompanyName",
			"distributorName", "mobile", "contact", "distributorLevelName"}),
		required: []string{"actionType", "distributorCode", "distributorName"},
	},
	"agents": {
		source: set(agentSeedFields),
		entry:  map[string]bool{},
		target: set([]string{"FName", "FNumber", "FShortName", "FCreateOrgId", "FUseOrgId", "FDescription", "FTRADINGCURRID",
			"FADDRESS", "FTEL", "FZIP", "FINVOICETITLE", "FTAXREGISTERCODE", "FINVOICEBANKNAME", "FINVOICETEL",
			"FINVOICEBANKACCOUNT", "FINVOICEADDRESS", "F_out_id", "F_KHLX", "FGroup", "FCustTypeId", "F_FML_Combo", "F_FML_Combo1"}),
		required: []string{"FName", "F_out_id"},
	},
}
