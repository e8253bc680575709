package kingdee

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/syncgate/syncgate/clients/vendor"
)

// SaveRequest is a Save/BatchSave request.
type SaveRequest struct {
	// FormID is the business object, e.g. "BD_Customer".
	FormID string
	// Model holds the records; BatchSave sends them as an array indexed by
	// DIndex, Save needs exactly one.
	Model []map[string]any
	// Models are Model items already encoded as JSON objects; when set they are sent instead of
	// Model (a caller that keeps each item's exact body need not encode it twice).
	Models []json.RawMessage
	// NeedUpDateFields lists the fields an update touches; NeedReturnFields
	// the fields to return.
	NeedUpDateFields, NeedReturnFields []string
	// IsAutoSubmitAndAudit submits and audits after saving;
	// IsVerifyBaseDataField validates base-data references.
	IsAutoSubmitAndAudit, IsVerifyBaseDataField bool
	// IsDeleteEntry is sent only when set (server default true).
	IsDeleteEntry *bool
	// Resolve makes a call that creates records safe to retry. A failed attempt's outcome is unknown
	// (the server may have committed the items and answered after the client's timeout), so before
	// every resend BatchSave asks Resolve which of the items still unsaved (pending, indexes into
	// Model/Models) the server already holds, and their ids. Those are not sent again: their results
	// carry the ids found and Resolved. Without Resolve, the whole batch is resent as it is.
	Resolve func(ctx context.Context, pending []int) (map[int]int64, error)
}

// ItemResult is the outcome of one Model item.
type ItemResult struct {
	// DIndex is the item's index in Model.
	DIndex int
	// ID and Number identify the saved record on success.
	ID     int64
	Number string
	// Field names the failing field when the server says which one.
	Field string
	// Err is the item's failure (Permanent for validation and duplicates,
	// Transient for MsgCode 13), nil on success.
	Err *vendor.Error
	// Resolved is true when the item was not saved by the last attempt but found by
	// SaveRequest.Resolve after an attempt whose outcome was unknown (it had saved it).
	Resolved bool
}

// SaveResult holds one ItemResult per Model index, in order.
type SaveResult struct {
	Items []ItemResult
}

// Failed returns the items that did not save.
func (r *SaveResult) Failed() []ItemResult {
	var out []ItemResult
	for _, it := range r.Items {
		if it.Err != nil {
			out = append(out, it)
		}
	}
	return out
}

type saveData struct {
	Model                 any      `json:"Model"`
	NeedUpDateFields      []string `json:"NeedUpDateFields,omitempty"`
	NeedReturnFields      []string `json:"NeedReturnFields,omitempty"`
	IsDeleteEntry         *bool    `json:"IsDeleteEntry,omitempty"`
	IsVerifyBaseDataField bool     `json:"IsVerifyBaseDataField"`
	IsAutoSubmitAndAudit  bool     `json:"IsAutoSubmitAndAudit"`
}

// BatchSave saves all Model items in one call. BatchSave is partial on the
// server: items that succeed are committed even when others fail, so
// per-item failures are reported in the result's Items, not as the error.
// The returned error is a whole-call failure (transport, session, a batch
// rejected as a whole); only then is it safe to resend the batch.
//
// Retries: the whole call is retried on transient failures, including
// ambiguous ones (timeouts, dropped connections) where the server may have
// committed the batch; callers creating records should be ready to find
// them already created (e.g. look up by an external id).
func (c *Client) BatchSave(ctx context.Context, req SaveRequest) (*SaveResult, error) {
	if len(req.Models) > 0 {
		return c.save(ctx, OpBatchSave, ServiceBatchSave, req, req.Models)
	}
	return c.save(ctx, OpBatchSave, ServiceBatchSave, req, req.Model)
}

// Save saves one model (req.Model must hold exactly one item) with the
// Save service. The item's failure is returned as the error (a
// *vendor.Error); the result carries ID and Number on success.
func (c *Client) Save(ctx context.Context, req SaveRequest) (*ItemResult, error) {
	var model any
	switch {
	case len(req.Models) == 1:
		model = req.Models[0]
	case len(req.Models) == 0 && len(req.Model) == 1:
		model = req.Model[0]
	default:
		return nil, &vendor.Error{Vendor: VendorName, Op: OpSave, Kind: vendor.Permanent, Code: "invalid_request",
			Message: fmt.Sprintf("Save needs exactly one model, got %d", max(len(req.Model), len(req.Models)))}
	}
	res, err := c.save(ctx, OpSave, ServiceSave, req, model)
	if err != nil {
		return nil, err
	}
	it := res.Items[0]
	if it.Err != nil {
		return &it, it.Err
	}
	return &it, nil
}

func (c *Client) save(ctx context.Context, op, service string, req SaveRequest, model any) (*SaveResult, error) {
	n := max(len(req.Model), len(req.Models))
	if req.FormID == "" || n == 0 {
		return nil, &vendor.Error{Vendor: VendorName, Op: op, Kind: vendor.Permanent, Code: "invalid_request",
			Message: "FormID and at least one Model item are required"}
	}
	body, err := saveBody(req, model)
	if err != nil {
		return nil, fmt.Errorf("kingdee: marshal %s: %w", op, err)
	}
	if op == OpSave {
		n = 1
	}
	if req.Resolve != nil && op == OpBatchSave {
		return c.saveResolving(ctx, req, body, n)
	}
	return vendor.Retry(ctx, c.vc, op, func(ctx context.Context, call *vendor.Call) (*SaveResult, error) {
		var res *SaveResult
		err := c.invoke(ctx, call, op, service, body, func(resp *vendor.Response) error {
			var err error
			res, err = decodeSave(resp, op, n)
			return err
		})
		return res, err
	})
}

// saveResolving is BatchSave with SaveRequest.Resolve: after a failed attempt, the items the server
// already holds are taken as saved and only the others are sent again. body is the first attempt's.
func (c *Client) saveResolving(ctx context.Context, req SaveRequest, body []byte, n int) (*SaveResult, error) {
	res := &SaveResult{Items: make([]ItemResult, n)}
	pending := make([]int, n)
	for i := range pending {
		pending[i], res.Items[i].DIndex = i, i
	}
	failed := false
	return vendor.Retry(ctx, c.vc, OpBatchSave, func(ctx context.Context, call *vendor.Call) (*SaveResult, error) {
		if failed {
			found, err := req.Resolve(ctx, pending)
			if err != nil {
				return nil, err
			}
			still := pending[:0:0]
			for _, i := range pending {
				if id, ok := found[i]; ok && id > 0 {
					res.Items[i].ID, res.Items[i].Resolved = id, true
					continue
				}
				still = append(still, i)
			}
			if len(still) == 0 {
				return res, nil
			}
			if len(still) < len(pending) {
				var err error
				if body, err = saveBody(req, subset(req, still)); err != nil {
					return nil, fmt.Errorf("kingdee: marshal %s: %w", OpBatchSave, err)
				}
			}
			pending = still
		}
		var sub *SaveResult
		err := c.invoke(ctx, call, OpBatchSave, ServiceBatchSave, body, func(resp *vendor.Response) error {
			var err error
			sub, err = decodeSave(resp, OpBatchSave, len(pending))
			return err
		})
		if err != nil {
			failed = true
			return nil, err
		}
		for j, i := range pending {
			it := sub.Items[j]
			it.DIndex = i
			res.Items[i] = it
		}
		return res, nil
	})
}

// subset is the Model array of the items at idx.
func subset(req SaveRequest, idx []int) any {
	if len(req.Models) > 0 {
		out := make([]json.RawMessage, len(idx))
		for j, i := range idx {
			out[j] = req.Models[i]
		}
		return out
	}
	out := make([]map[string]any, len(idx))
	for j, i := range idx {
		out[j] = req.Model[i]
	}
	return out
}

// itemLevelCodes are MsgCodes that describe item data rather than the call.
func itemLevel(code int) bool {
	switch code {
	case 0, 9, 10, MsgCodeValidation, 12:
		return true
	}
	return false
}

// decodeSave maps a Save/BatchSave answer onto n items.
func decodeSave(resp *vendor.Response, op string, n int) (*SaveResult, error) {
	body := vendor.TrimBody(resp.Body)
	if err := checkFailureLayers(resp, body); err != nil {
		return nil, err
	}
	st, ok := unwrapError(body)
	if !ok {
		return nil, vendor.Malformed(resp, "answer has no Result.ResponseStatus", nil)
	}
	code := st.msgCode()
	if !st.success() && len(st.SuccessEntitys) == 0 && (!itemLevel(code) || kindOf(code, st.message()) != vendor.Permanent) {
		// Nothing was saved and the failure concerns the call (session lost,
		// lock conflict, permission, bad form): the batch can be resent as is.
		return nil, st.err()
	}
	res := &SaveResult{Items: make([]ItemResult, n)}
	done := make([]bool, n)
	for i := range res.Items {
		res.Items[i].DIndex = i
	}
	for _, se := range st.SuccessEntitys {
		i, ok := rawInt(se.DIndex)
		if !ok {
			i = 0
		}
		if i < 0 || int(i) >= n {
			continue
		}
		id, _ := rawInt(se.ID)
		res.Items[i].ID, res.Items[i].Number = id, rawScalar(se.Number)
		done[i] = true
	}
	for _, e := range st.Errors {
		i, ok := rawInt(e.DIndex)
		if !ok || i < 0 || int(i) >= n {
			i = 0
			if n != 1 {
				continue // an error we cannot attribute; items without a result fail below
			}
		}
		it := &res.Items[i]
		msg := strings.TrimSpace(e.Message)
		if it.Err == nil {
			it.Err = &vendor.Error{Vendor: VendorName, Op: op, Kind: kindOf(code, msg), Code: strconv.Itoa(code),
				Message: msg, HTTPStatus: resp.Status}
		} else if msg != "" {
			it.Err.Message += "; " + msg
		}
		if e.FieldName != nil && it.Field == "" {
			it.Field = *e.FieldName
		}
		done[i] = true
	}
	for i := range res.Items {
		if !done[i] {
			msg := st.message()
			if msg == "" {
				msg = "the server returned no result for this item"
			}
			res.Items[i].Err = &vendor.Error{Vendor: VendorName, Op: op, Kind: vendor.Permanent,
				Code: strconv.Itoa(code), Message: msg, HTTPStatus: resp.Status}
		}
	}
	return res, nil
}
