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
	// Unset names optional fields (by their JSON names: address, balance_deduct_type,
	// distributorCompanyName, mobile, contact, distributorLevelName) that the body leaves out. An
	// update then keeps what Greatonce holds for them; an add leaves them empty.
	Unset []string `json:"-"`
}

// wireDistributor is the body as sent: optional fields are pointers, left out when unset.
type wireDistributor struct {
	ActionType             string  `json:"actionType"`
	Address                *string `json:"address,omitempty"`
	BalanceDeductType      *string `json:"balance_deduct_type,omitempty"`
	DistributorCode        string  `json:"distributorCode"`
	DistributorCompanyName *string `json:"distributorCompanyName,omitempty"`
	DistributorName        string  `json:"distributorName"`
	Mobile                 *string `json:"mobile,omitempty"`
	Contact                *string `json:"contact,omitempty"`
	DistributorLevelName   *string `json:"distributorLevelName,omitempty"`
}

// Body returns the request body DistributorSync sends for d, byte for byte.
func Body(d Distributor) ([]byte, error) {
	w, err := d.wire()
	if err != nil {
		return nil, err
	}
	return json.Marshal(w)
}

// wire returns the body to send, or an error naming a field Unset cannot leave out.
func (d *Distributor) wire() (wireDistributor, error) {
	w := wireDistributor{ActionType: d.ActionType, DistributorCode: d.DistributorCode, DistributorName: d.DistributorName,
		Address: &d.Address, BalanceDeductType: &d.BalanceDeductType, DistributorCompanyName: &d.DistributorCompanyName,
		Mobile: &d.Mobile, Contact: &d.Contact, DistributorLevelName: &d.DistributorLevelName}
	for _, f := range d.Unset {
		switch f {
		case "address":
			w.Address = nil
		case "balance_deduct_type":
			w.BalanceDeductType = nil
		case "distributorCompanyName":
			w.DistributorCompanyName = nil
		case "mobile":
			w.Mobile = nil
		case "contact":
			w.Contact = nil
		case "distributorLevelName":
			w.DistributorLevelName = nil
		default:
			return w, fmt.Errorf("%s cannot be left out of a distributor request", f)
		}
	}
	return w, nil
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
	body, err := Body(d)
	if err != nil {
		return nil, invalid(err.Error())
	}
	_, err = c.Call(ctx, MethodDistributorSync, body)
	return body, err
}
