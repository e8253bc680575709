package greatonce

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/syncgate/syncgate/clients/vendor"
)

// MethodDistributorSync is the API method that adds or updates one distributor.
const MethodDistributorSync = "greatonce.distributor.single.sync"

// Action types accepted by [Client.DistributorSync].
const (
	ActionAdd    = "add"
	ActionUpdate = "update"
)

// Distributor is the greatonce.distributor.single.sync request, with the
// seed's fields in the seed's order and their exact wire names (including
// the snake_case balance_deduct_type).
type Distributor struct {
	ActionType             string `json:"actionType"`
	Address                string `json:"address"`
	BalanceDeductType      string `json:"balance_deduct_type"`
	DistributorCode        string `json:"distributorCode"`
	DistributorCompanyName string `json:"distributorCompanyName"`
	DistributorName        string `json:"distributorName"`
	Mobile                 string `json:"mobile"`
	Contact                string `json:"contact"`
	DistributorLevelName   string `json:"distributorLevelName"`
}

// DistributorSync adds ("add") or updates ("update") one distributor; the
// actionType argument overrides d.ActionType. It returns the exact body sent
// (signed as is), also when the call failed; a request missing actionType,
// distributorCode or distributorName fails locally as permanent without a
// call (and without a body). Use [IsAlreadyExists] / [IsNotFound] on the
// error to switch between add and update.
func (c *Client) DistributorSync(ctx context.Context, actionType string, d Distributor) ([]byte, error) {
	d.ActionType = actionType
	invalid := func(msg string) error {
		return &vendor.Error{Vendor: VendorName, Op: MethodDistributorSync, Kind: vendor.Permanent, Code: "invalid_request", Message: msg}
	}
	switch {
	case actionType != ActionAdd && actionType != ActionUpdate:
		return nil, invalid(fmt.Sprintf("actionType must be %q or %q, got %q", ActionAdd, ActionUpdate, actionType))
	case d.DistributorCode == "":
		return nil, invalid("distributorCode is required")
	case d.DistributorName == "":
		return nil, invalid("distributorName is required")
	}
	body, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("greatonce: marshal distributor: %w", err)
	}
	_, err = c.Call(ctx, MethodDistributorSync, body)
	return body, err
}
