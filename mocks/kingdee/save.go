package kingdee

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/syncgate/syncgate/mocks/internal/gen"
	"github.com/syncgate/syncgate/mocks/internal/jsonw"
)

// refNumber reads a base-data reference {"FNumber": "100"} (or a bare value).
func refNumber(v any) string {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			if strings.EqualFold(k, "FNumber") {
				if s, ok := x.(string); ok {
					return s
				}
				return fmt.Sprint(x)
			}
		}
		return ""
	}
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
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

// textFields are the model fields apply saves as text.
var textFields = map[string]bool{"FNumber": true, "FName": true, "FShortName": true, "FDescription": true,
	"FADDRESS": true, "FTEL": true, "FZIP": true, "FINVOICETITLE": true, "FTAXREGISTERCODE": true,
	"FINVOICEBANKNAME": true, "FINVOICETEL": true, "FINVOICEBANKACCOUNT": true, "FINVOICEADDRESS": true,
	"F_FML_Combo": true, "F_FML_Combo1": true, "F_out_id": true, "F_KHLX": true}

// apply sets the model's fields on c. Unknown fields are ignored, as Kingdee ignores fields it does
// not save.
func apply(c *customer, model map[string]any, only map[string]bool) error {
	for k, v := range model {
		if only != nil && !only[k] && k != "FCUSTID" {
			continue
		}
		switch k {
		case "FCreateOrgId", "FUseOrgId", "FTRADINGCURRID", "FGroup", "FCustTypeId":
		default:
			if !textFields[k] {
				continue // not saved
			}
		}
		text := ""
		if s, ok := v.(string); ok {
			text = s
		} else if _, ref := v.(map[string]any); ref {
			text = refNumber(v) // a custom field the spec writes as base data ({"FNumber": …}) keeps its number
		} else if v != nil && textFields[k] {
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

// saveEnvelope is a Save/BatchSave body in any of the three envelopes, decoded once into plain values
// (jsonw.Decode: json.Unmarshal into any, without reflection): a BatchSave of 500 models is large, and
// reading it level by level through json.RawMessage (as envelope does for the small query bodies)
// scanned it five times. It reads a body exactly as envelope
// and envelope.data read it: the same values, defaults and errors.
type saveEnvelope struct {
	named  map[string]any // lower-cased keys
	params []any          // the positional envelopes; nil for named keys
}

func decodeSaveEnvelope(body []byte) (saveEnvelope, error) {
	var env saveEnvelope
	top, err := jsonw.Decode(body)
	m, ok := top.(map[string]any)
	if err != nil || !ok && top != nil {
		return env, fmt.Errorf("body is not a JSON object")
	}
	env.named = make(map[string]any, len(m))
	for k, v := range m {
		env.named[strings.ToLower(k)] = v
	}
	if p, ok := env.named["parameters"]; ok {
		notArray := fmt.Errorf("parameters is not an array")
		if s, isString := p.(string); isString { // legacy .NET: parameters is a JSON array in a string
			var err error
			if p, err = jsonw.Decode([]byte(s)); err != nil {
				return env, notArray
			}
			if p == nil {
				return env, nil // "null": no parameters, named keys
			}
		}
		if env.params, ok = p.([]any); !ok { // null (not in a string) included
			return env, notArray
		}
	}
	return env, nil
}

// data returns the "data" object (possibly sent as a JSON string) with lower-cased keys, and the form
// id.
func (env saveEnvelope) data() (map[string]any, string, error) {
	var raw any
	var present bool
	form := ""
	if env.params != nil {
		if len(env.params) < 2 {
			return nil, "", fmt.Errorf("parameters needs [formid, data]")
		}
		form, _ = env.params[0].(string)
		raw, present = env.params[1], true
	} else {
		raw, present = env.named["data"]
		form, _ = env.named["formid"].(string)
	}
	notObject := fmt.Errorf("data is not an object")
	if !present || raw == nil {
		return nil, "", notObject
	}
	if s, ok := raw.(string); ok {
		var err error
		if raw, err = jsonw.Decode([]byte(s)); err != nil {
			return nil, "", notObject
		}
	}
	m, ok := raw.(map[string]any)
	if !ok && raw != nil { // a string holding "null" is an empty object
		return nil, "", notObject
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out, form, nil
}

// stringList reads a JSON value as []string: an array's strings, "" for its other items, nil for
// anything but an array (what decoding into []string leaves).
func stringList(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		out[i], _ = x.(string)
	}
	return out
}

// boolValue reads a boolean that may arrive as a JSON boolean or a string (boolParam on a value).
func boolValue(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true") || x == "1"
	}
	return false
}

func (s *Server) save(c echo.Context, endpoint string, env saveEnvelope) error {
	data, form, err := env.data()
	if err != nil {
		return c.JSON(http.StatusOK, failure(endpoint, 8, "", err.Error(), 0))
	}
	if form == "" {
		form, _ = data["formid"].(string)
	}
	if !strings.EqualFold(form, "BD_Customer") {
		return c.JSON(http.StatusOK, failure(endpoint, 4, "", fmt.Sprintf("标识为“%s”的业务对象不存在，或者被删除", form), 0))
	}
	// Decoded into any, then checked: the same values and failures as decoding into map[string]any
	// / []map[string]any, without reflection over every map.
	var models []map[string]any
	v, present := data["model"]
	if endpoint == EndpointSave {
		m, ok := v.(map[string]any)
		if !present || !ok && v != nil {
			return c.JSON(http.StatusOK, failure(endpoint, 8, "", "Model 必须是对象", 0))
		}
		models = []map[string]any{m}
	} else {
		arr, ok := v.([]any)
		if !present || !ok && v != nil {
			return c.JSON(http.StatusOK, failure(endpoint, 8, "", "Model 必须是数组", 0))
		}
		models = make([]map[string]any, len(arr))
		for i, x := range arr {
			m, ok := x.(map[string]any)
			if !ok && x != nil {
				return c.JSON(http.StatusOK, failure(endpoint, 8, "", "Model 必须是数组", 0))
			}
			models[i] = m
		}
	}
	need := stringList(data["needupdatefields"])
	var only map[string]bool // NeedUpDateFields of updates
	if len(need) > 0 {
		only = make(map[string]bool, len(need))
		for _, f := range need {
			only[f] = true
		}
	}
	audit := boolValue(data["isautosubmitandaudit"])

	results := make([]itemResult, len(models))
	s.mu.Lock()
	for i, m := range models {
		results[i] = s.saveOne(m, only, audit)
	}
	s.mu.Unlock()

	single := endpoint == EndpointSave
	if !prettyJSON(c) {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, appendSaveAnswer(nil, results, single))
	}
	return c.JSON(http.StatusOK, saveAnswer(results, single))
}

// saveAnswer is the Save/BatchSave answer: every item's success or failure by DIndex, Id and Number
// at Result level for a successful Save.
func saveAnswer(results []itemResult, single bool) map[string]any {
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
	if single && len(oks) == 1 {
		result["Id"], result["Number"], result["NeedReturnData"] = results[0].id, results[0].number, []any{map[string]any{}}
	}
	return map[string]any{"Result": result}
}

// appendSaveAnswer appends saveAnswer as c.JSON writes it (keys sorted, a final newline), by hand.
func appendSaveAnswer(b []byte, results []itemResult, single bool) []byte {
	failed := false
	for _, r := range results {
		failed = failed || !r.ok
	}
	b = append(b, `{"Result":{`...)
	if single && !failed && len(results) == 1 {
		b = append(b, `"Id":`...)
		b = strconv.AppendInt(b, results[0].id, 10)
		b = append(b, `,"NeedReturnData":[{}],"Number":`...)
		b = jsonw.String(b, results[0].number)
		b = append(b, ',')
	}
	b = append(b, `"ResponseStatus":{`...)
	if failed {
		b = append(b, `"ErrorCode":500,`...)
	}
	b = append(b, `"Errors":[`...)
	n := 0
	for i, r := range results {
		if r.ok {
			continue
		}
		if n++; n > 1 {
			b = append(b, ',')
		}
		b = append(b, `{"DIndex":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"FieldName":`...)
		if r.field == "" {
			b = append(b, "null"...)
		} else {
			b = jsonw.String(b, r.field)
		}
		b = append(b, `,"Message":`...)
		b = jsonw.String(b, r.msg)
		b = append(b, '}')
	}
	b = append(b, `],"IsSuccess":`...)
	b = strconv.AppendBool(b, !failed)
	b = append(b, `,"MsgCode":`...)
	if failed {
		b = strconv.AppendInt(b, int64(results[firstFailed(results)].code), 10)
	} else {
		b = append(b, '0')
	}
	b = append(b, `,"SuccessEntitys":[`...)
	n = 0
	for i, r := range results {
		if !r.ok {
			continue
		}
		if n++; n > 1 {
			b = append(b, ',')
		}
		b = append(b, `{"DIndex":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"Id":`...)
		b = strconv.AppendInt(b, r.id, 10)
		b = append(b, `,"Number":`...)
		b = jsonw.String(b, r.number)
		b = append(b, '}')
	}
	return append(b, "],\"SuccessMessages\":[]}}}\n"...)
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

// saveOne saves one model; only (nil: every field) are the NeedUpDateFields that apply to an update.
func (s *Server) saveOne(m map[string]any, only map[string]bool, audit bool) itemResult {
	var id int64
	switch v := m["FCUSTID"].(type) {
	case float64:
		id = int64(v)
	case string:
		id, _ = strconv.ParseInt(v, 10, 64)
	}
	var c *customer
	if id != 0 {
		old, ok := s.custs[id]
		if !ok {
			return itemResult{code: 10, msg: fmt.Sprintf("数据不存在: FCUSTID=%d", id)}
		}
		cp := *old
		cp.Addresses = append([]address(nil), old.Addresses...)
		c = &cp
	} else {
		only = nil // NeedUpDateFields is for updates
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
		// Old keys are deleted only when they change: deleting and re-adding an unchanged key ends
		// the same way, and did it for every update made the maps rehash.
		if old.Number != c.Number {
			delete(s.byNumber, old.Number)
		}
		if old.OutID != "" && old.OutID != c.OutID {
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
