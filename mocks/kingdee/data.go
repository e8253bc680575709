package kingdee

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/syncgate/syncgate/mocks/internal/gen"
)

const timeLayout = "2006-01-02 15:04:05"

var gmt8 = time.FixedZone("GMT+8", 8*3600)

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range []string{timeLayout + ".999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, gmt8); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a datetime: %q", s)
}

// address is one row of the FT_BD_CUSTCONTACT sub-table (a delivery address and its contact).
type address struct {
	Number, Name, Address, Mobile string
	Default                       bool
	ContactID                     int64
	ContactNumber, ContactName    string
	ContactMobile                 string
}

// customer is one BD_Customer record.
type customer struct {
	ID                                         int64
	Number, Name, ShortName, Description       string
	Address, Tel, Zip                          string
	InvoiceTitle, TaxCode, InvoiceBank         string
	InvoiceTel, InvoiceAccount, InvoiceAddress string
	DocStatus, ForbidStatus                    string
	Created, Modified                          time.Time
	Combo, Combo1, OutID, KHLX                 string
	CreateOrg, UseOrg                          int // index into gen.Orgs
	Currency, Group, CustType                  string
	Addresses                                  []address
}

// seedOnly are response fields of the seed that the mock does not model: they answer " ".
var seedOnly = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`FIsTrade FSALDEPTID.FNumber FSELLER.FNumber FSETTLETYPEID.FNumber FRECCONDITIONID.FNumber
		FDISCOUNTLISTID.FNumber FPRICELISTID.FNumber FTRANSLEADTIME FInvoiceType FTaxType.FNumber FWEBSITE FFAX
		FCompanyClassify.FNumber FCompanyNature.FNumber FCompanyScale.FNumber FSUPPLIERID.FNumber FIsGroup FIsDefPayer
		FGROUPCUSTID.FNumber FCOUNTRY1.FNumber FBANKCODE FACCOUNTNAME FBankTypeRec.FNumber FTextBankDetail FBankDetail.FNumber
		FOpenAddressRec FCNAPS FCURRENCYID.FNumber FISDEFAULT1 FDefaultConsiLoc.FNumber FDefaultSettleLoc.FNumber
		FDefaultPayerLoc.FNumber FDefaultContact.FNumber FMarginLevel FContactId FBIZLOCNUMBER FCONTACT`) {
		seedOnly[f] = true
	}
}

// entryFields are the FT_BD_CUSTCONTACT fields: a query naming one returns a row per address.
var entryFields = map[string]bool{
	"FNUMBER1": true, "FNAME1": true, "FADDRESS1": true, "FMOBILE": true, "FIsDefaultConsignee": true,
	"FTContact": true, "FTContact.FName": true, "FTContact.FNumber": true, "FTContact.FMobile": true,
}

func orgValue(i int, sub string) any {
	switch sub {
	case "":
		return int64(100000 + i)
	case "FNumber":
		return gen.Orgs[i][0]
	case "FName":
		return gen.Orgs[i][1]
	}
	return nil
}

// get returns a header field of c, or ok=false for an unknown field.
func (c *customer) get(key string) (any, bool) {
	base, sub, _ := strings.Cut(key, ".")
	switch base {
	case "FCUSTID":
		return c.ID, sub == ""
	case "FNumber":
		return c.Number, true
	case "FName":
		return c.Name, true
	case "FShortName":
		return c.ShortName, true
	case "FDescription":
		return c.Description, true
	case "FADDRESS":
		return c.Address, true
	case "FTEL":
		return c.Tel, true
	case "FZIP":
		return c.Zip, true
	case "FINVOICETITLE":
		return c.InvoiceTitle, true
	case "FTAXREGISTERCODE":
		return c.TaxCode, true
	case "FINVOICEBANKNAME":
		return c.InvoiceBank, true
	case "FINVOICETEL":
		return c.InvoiceTel, true
	case "FINVOICEBANKACCOUNT":
		return c.InvoiceAccount, true
	case "FINVOICEADDRESS":
		return c.InvoiceAddress, true
	case "FDocumentStatus":
		return c.DocStatus, true
	case "FForbidStatus":
		return c.ForbidStatus, true
	case "FCreateDate":
		return c.Created, true
	case "FModifyDate":
		return c.Modified, true
	case "F_FML_Combo":
		return c.Combo, true
	case "F_FML_Combo1":
		return c.Combo1, true
	case "F_out_id":
		return c.OutID, true
	case "F_KHLX":
		return c.KHLX, true
	case "FCreateOrgId":
		v := orgValue(c.CreateOrg, sub)
		return v, v != nil
	case "FUseOrgId":
		v := orgValue(c.UseOrg, sub)
		return v, v != nil
	case "FTRADINGCURRID":
		return refValue(c.Currency, sub, "人民币")
	case "FGroup":
		return refValue(c.Group, sub, "经销商")
	case "FCustTypeId":
		return refValue(c.CustType, sub, "普通客户")
	}
	if seedOnly[key] {
		return " ", true
	}
	return nil, false
}

func refValue(number, sub, name string) (any, bool) {
	switch sub {
	case "":
		if number == "" {
			return int64(0), true
		}
		return int64(len(number)*1000 + int(number[len(number)-1])), true
	case "FNumber":
		return number, true
	case "FName":
		if number == "" {
			return " ", true
		}
		return name, true
	}
	return nil, false
}

func (a *address) get(key string) any {
	switch key {
	case "FNUMBER1":
		return a.Number
	case "FNAME1":
		return a.Name
	case "FADDRESS1":
		return a.Address
	case "FMOBILE":
		return a.Mobile
	case "FIsDefaultConsignee":
		return a.Default
	case "FTContact":
		return a.ContactID
	case "FTContact.FName":
		return a.ContactName
	case "FTContact.FNumber":
		return a.ContactNumber
	case "FTContact.FMobile":
		return a.ContactMobile
	}
	return nil
}

// generate makes customer i of n.
func generate(g *gen.Gen, i, n int) *customer {
	org := g.IntN(len(gen.Orgs))
	c := &customer{
		ID: int64(100001 + i), Number: fmt.Sprintf("CUST%07d", i+1), Name: g.Company(), Tel: g.Mobile(),
		DocStatus: "C", ForbidStatus: "A", Combo: g.Pick(gen.DeductTypes), Combo1: g.Pick(gen.Levels),
		CreateOrg: org, UseOrg: org, Currency: "PRE001", Group: "01", CustType: "KHLB001_SYS", KHLX: "KHLX01_SYS",
	}
	c.Modified = g.Time(i, n)
	c.Created = c.Modified
	c.Address = g.Address()
	switch i % 20 {
	case 7:
		c.DocStatus = "A" // saved, not audited: not synced
	case 13:
		c.ForbidStatus = "B" // forbidden: not synced
	}
	na := 1 + g.IntN(2)
	if i%11 == 5 {
		na = 0 // customers without an address exist too
	}
	for j := range na {
		person := g.Person()
		c.Addresses = append(c.Addresses, address{
			Number: fmt.Sprintf("%s-%d", c.Number, j+1), Name: "收货地址", Address: g.Address(), Mobile: g.Mobile(),
			Default: j == na-1, ContactID: c.ID*10 + int64(j), ContactNumber: fmt.Sprintf("LXR%07d%d", i+1, j),
			ContactName: person, ContactMobile: g.Mobile(),
		})
	}
	return c
}

// index orders customers by (FModifyDate, FCUSTID). Entries go stale when a customer's modify date
// moves; scans skip them and compact() drops them.
type index struct {
	entries []entry
}

type entry struct {
	mod time.Time
	c   *customer
}

func (e entry) stale() bool { return !e.mod.Equal(e.c.Modified) }

func less(a, b entry) bool {
	if !a.mod.Equal(b.mod) {
		return a.mod.Before(b.mod)
	}
	return a.c.ID < b.c.ID
}

func (ix *index) add(c *customer) {
	e := entry{mod: c.Modified, c: c}
	n := len(ix.entries)
	if n == 0 || !less(e, ix.entries[n-1]) {
		ix.entries = append(ix.entries, e)
		return
	}
	i := sort.Search(n, func(i int) bool { return less(e, ix.entries[i]) })
	ix.entries = append(ix.entries, entry{})
	copy(ix.entries[i+1:], ix.entries[i:])
	ix.entries[i] = e
}

// from returns the position of the first entry modified at or after t.
func (ix *index) from(t time.Time) int {
	return sort.Search(len(ix.entries), func(i int) bool { return !ix.entries[i].mod.Before(t) })
}

func (ix *index) compact() {
	out := ix.entries[:0]
	for _, e := range ix.entries {
		if !e.stale() {
			out = append(out, e)
		}
	}
	ix.entries = out
}
