package kingdee

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/clients/vendor"
	mock "github.com/syncgate/syncgate/mocks/kingdee"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

func TestBatchSaveRetryDoesNotCreateTwice(t *testing.T) {
	for _, resolve := range []bool{false, true} {
		t.Run(fmt.Sprintf("resolve=%v", resolve), func(t *testing.T) {
			m := mock.New(mock.DefaultConfig())
			srv := httptest.NewServer(m)
			t.Cleanup(srv.Close)
			// The first BatchSave is committed, and never answered: the client times out.
			if err := mockctl.New(srv.URL, nil).SetFault(context.Background(), mockctl.Fault{Endpoint: "BatchSave", Kind: mockctl.KindCommitDelay, Count: 1}); err != nil {
				t.Fatal(err)
			}
			mc := mock.DefaultConfig()
			c, err := New(Config{BaseURL: srv.URL + "/k3cloud/", AcctID: mc.AcctID, Username: mc.Username, Password: mc.Password,
				Transport: vendor.Transport{Timeout: 300 * time.Millisecond, MaxAttempts: 3, MaxElapsed: 10 * time.Second, BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			outIDs := []string{"A1", "A2", "A3"}
			req := SaveRequest{FormID: "BD_Customer", IsAutoSubmitAndAudit: true}
			for _, id := range outIDs {
				req.Models = append(req.Models, json.RawMessage(fmt.Sprintf(`{"FCUSTID":0,"FName":"客户%s","FNumber":"","F_out_id":%q}`, id, id)))
			}
			var asked [][]int
			if resolve {
				req.Resolve = func(ctx context.Context, pending []int) (map[int]int64, error) {
					asked = append(asked, pending)
					vals := make([]string, len(pending))
					for j, i := range pending {
						vals[j] = outIDs[i]
					}
					rows, err := c.QueryPage(ctx, Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID", "F_out_id"}, Filter: In("F_out_id", vals...)})
					if err != nil {
						return nil, err
					}
					found := map[int]int64{}
					for _, r := range rows {
						for _, i := range pending {
							if r.String("F_out_id") == outIDs[i] {
								found[i], _ = r.Int64("FCUSTID")
							}
						}
					}
					return found, nil
				}
			}
			res, err := c.BatchSave(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			// Count in the mock's own state: its F_out_id index keeps one customer per id.
			var rows []mock.Customer
			for _, cu := range m.Customers() {
				if strings.HasPrefix(cu.F_out_id, "A") {
					rows = append(rows, cu)
				}
			}
			if !resolve {
				// The bug this guards against: a resend of creates whose first attempt committed.
				if len(rows) != 6 {
					t.Fatalf("without Resolve: %d customers, want the 6 a blind resend makes", len(rows))
				}
				return
			}
			if len(rows) != 3 {
				t.Fatalf("%d customers for 3 agents: %v", len(rows), rows)
			}
			if len(asked) != 1 || len(asked[0]) != 3 {
				t.Fatalf("Resolve asked %v, want once for the 3 items", asked)
			}
			for i, it := range res.Items {
				if it.Err != nil || it.ID == 0 || !it.Resolved || it.DIndex != i {
					t.Fatalf("item %d = %+v", i, it)
				}
			}
		})
	}
}
