package kingdee

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/syncgate/syncgate/mocks/internal/gen"
)

func boolParam(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return strings.EqualFold(s, "true") || s == "1"
}

// refNumber reads a base-data reference {"FNumber": "100"} (or a bare value).
func refNumber(v any) string {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			if strings.EqualFold(k, "FNumber") {
				return fmt.Sprint(x)
			}
		}
		return ""
	}
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func orgIndex(number string) (int, bool) {
	for i, o := range gen.Orgs {
		if o[0] == number {
			return i, true
		}
	}
	return 0, false
}

// apply sets the model's fields on c. Unknown fields are ignored, as Kingdee ignores fields it does
// not save.
func apply(c *customer, model map[string]any, only map[string]bool) error {
	for k, v := range model {
		if only != nil && !only[k] && k != "FCUSTID" {
			continue
		}
		text := ""
		if s, ok := v.(string); ok {
			text = s
		} else if v != nil {
			text = fmt.Sprint(v)
		}
		switch k {
		case "FNumber":
			c.Number = text
		case "FName":
			c.Name = text
		case "FShortName":
			c.ShortName = text
		case "FDescription":
			c.Description = text
		case "FADDRESS":
			c.Address = text
		case "FTEL":
			c.Tel = text
		case "FZIP":
			c.Zip = text
		case "FINVOICETITLE":
			c.InvoiceTitle = text
		case "FTAXREGISTERCODE":
			c.TaxCode = text
		case "FINVOICEBANKNAME":
			c.InvoiceBank = text
		case "FINVOICETEL":
			c.InvoiceTel = text
		case "FINVOICEBANKACCOUNT":
			c.InvoiceAccount = text
		case "FINVOICEADDRESS":
			c.InvoiceAddress = text
		case "F_FML_Combo":
			c.Combo = text
		case "F_FML_Combo1":
			c.Combo1 = text
		case "F_out_id":
			c.OutID = text
		case "F_KHLX":
			c.KHLX = text
		case "FCreateOrgId", "FUseOrgId":
			i, ok := orgIndex(refNumber(v))
			if !ok {
				return fmt.Errorf("%s: 组织编码[%s]不存在", k, refNumber(v))
			}
			if k == "FCreateOrgId" {
				c.CreateOrg = i
			} else {
				c.UseOrg = i
			}
		case "FTRADINGCURRID":
			c.Currency = refNumber(v)
		case "FGroup":
			c.Group = refNumber(v)
		case "FCustTypeId":
			c.CustType = refNumber(v)
		}
	}
	return nil
}

type itemResult struct {
	ok     bool
	id     int64
	number string
	field  string
	msg    string
	code   int
}

func (s *Server) save(c echo.Context, endpoint string, env envelope) error {
	data, form, err := env.data(true)
	if err != nil {
		return c.JSON(http.StatusOK, failure(endpoint, 8, "", err.Error(), 0))
	}
	if form == "" {
		_ = json.Unmarshal(data["formid"], &form)
	}
	if !strings.EqualFold(form, "BD_Customer") {
		return c.JSON(http.StatusOK, failure(endpoint, 4, "", fmt.Sprintf("标识为“%s”的业务对象不存在，或者被删除", form), 0))
	}
	var models []map[string]any
	raw := data["model"]
	if endpoint == EndpointSave {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return c.JSON(http.StatusOK, failure(endpoint, 8, "", "Model 必须是对象", 0))
		}
		models = []map[string]any{m}
	} else if err := json.Unmarshal(raw, &models); err != nil {
		return c.JSON(http.StatusOK, failure(endpoint, 8, "", "Model 必须是数组", 0))
	}
	var need []string
	_ = json.Unmarshal(data["needupdatefields"], &need)
	audit := boolParam(data["isautosubmitandaudit"])

	results := make([]itemResult, len(models))
	s.mu.Lock()
	for i, m := range models {
		results[i] = s.saveOne(m, need, audit)
	}
	s.mu.Unlock()

	var errs, oks []any
	for i, r := range results {
		if r.ok {
			oks = append(oks, map[string]any{"Id": r.id, "Number": r.number, "DIndex": i})
		} else {
			errs = append(errs, map[string]any{"FieldName": nullable(r.field), "Message": r.msg, "DIndex": i})
		}
	}
	status := map[string]any{"IsSuccess": len(errs) == 0, "Errors": nonNil(errs), "SuccessEntitys": nonNil(oks),
		"SuccessMessages": []any{}, "MsgCode": 0}
	if len(errs) > 0 {
		status["ErrorCode"] = 500
		status["MsgCode"] = results[firstFailed(results)].code
	}
	result := map[string]any{"ResponseStatus": status}
	if endpoint == EndpointSave && len(oks) == 1 {
		result["Id"], result["Number"], result["NeedReturnData"] = results[0].id, results[0].number, []any{map[string]any{}}
	}
	return c.JSON(http.StatusOK, map[string]any{"Result": result})
}

func nonNil(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func firstFailed(rs []itemResult) int {
	for i, r := range rs {
		if !r.ok {
			return i
		}
	}
	return 0
}

func (s *Server) saveOne(m map[string]any, need []string, audit bool) itemResult {
	var id int64
	switch v := m["FCUSTID"].(type) {
	case float64:
		id = int64(v)
	case string:
		id, _ = strconv.ParseInt(v, 10, 64)
	}
	var only map[string]bool
	var c *customer
	if id != 0 {
		old, ok := s.custs[id]
		if !ok {
			return itemResult{code: 10, msg: fmt.Sprintf("数据不存在: FCUSTID=%d", id)}
		}
		cp := *old
		cp.Addresses = append([]address(nil), old.Addresses...)
		c = &cp
		if len(need) > 0 {
			only = map[string]bool{}
			for _, f := range need {
				only[f] = true
			}
		}
	} else {
		c = &customer{ID: s.nextID, DocStatus: "A", ForbidStatus: "A", Currency: "PRE001"}
	}
	if err := apply(c, m, only); err != nil {
		return itemResult{code: 11, msg: err.Error()}
	}
	if strings.TrimSpace(c.Name) == "" {
		return itemResult{code: 11, field: "FName", msg: "字段[客户名称]是必录字段"}
	}
	if id != 0 && strings.TrimSpace(c.Number) == "" {
		return itemResult{code: 11, field: "FNumber", msg: "字段[编码]是必录字段"}
	}
	if id == 0 && strings.TrimSpace(c.Number) == "" {
		for {
			c.Number = fmt.Sprintf("CUST%07d", s.nextNum)
			s.nextNum++
			if s.byNumber[c.Number] == nil {
				break
			}
		}
	}
	if other := s.byNumber[c.Number]; other != nil && other.ID != c.ID {
		return itemResult{code: 11, field: "FNumber", msg: fmt.Sprintf("违反字段唯一性要求：编码唯一。[%s]在当前系统中已经被使用。", c.Number)}
	}
	if audit {
		c.DocStatus = "C"
	}
	c.Modified = s.nowLocked()
	if id == 0 {
		c.Created = c.Modified
		s.nextID++
	} else {
		old := s.custs[id]
		delete(s.byNumber, old.Number)
		if old.OutID != "" {
			delete(s.byOutID, old.OutID)
		}
		// The old index entry goes stale: its modify date no longer matches the record's.
		old.Modified = c.Modified
		*old = *c
		c = old
		s.byNumber[c.Number] = c
		if c.OutID != "" {
			s.byOutID[c.OutID] = c
		}
		s.ix.add(c)
		return itemResult{ok: true, id: c.ID, number: c.Number}
	}
	s.insertLocked(c)
	return itemResult{ok: true, id: c.ID, number: c.Number}
}
