package kingdee

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/syncgate/syncgate/clients/vendor"
	mock "github.com/syncgate/syncgate/mocks/kingdee"
)

func TestInvalidFilterIsNotSent(t *testing.T) {
	c, ctl := mockClient(t, false)
	ctx := context.Background()
	_, err := c.QueryPage(ctx, Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID"}, Filter: In[string]("FNumber")})
	var ve *vendor.Error
	if !errors.As(err, &ve) || ve.Kind != vendor.Permanent || ve.Code != "invalid_filter" ||
		err.Error() != "kingdee ExecuteBillQuery: permanent code invalid_filter: the filter cannot be built: kingdee filter: FNumber in (): no values" {
		t.Fatalf("error %v, want a permanent invalid_filter one", err)
	}
	counts, cerr := ctl.Counts(ctx)
	if cerr != nil {
		t.Fatal(cerr)
	}
	if n := counts[mock.EndpointQuery]; n != 0 {
		t.Fatalf("%d queries reached Kingdee with a filter that failed to build (%v)", n, err)
	}
}

// Every constructor's output, with any values, parses in the Kingdee mock's filter parser (reached
// over the wire: the mock does not export it) and keeps its structure there: the fuzzed filter is
// one branch of an or that holds for one known customer, so exactly that customer comes back.
func FuzzFilterParsesInMock(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed.a, seed.b, seed.n)
	}
	c, ctl := mockClient(f, false)
	ctx := context.Background()
	custs, err := ctl.KingdeeCustomers(ctx)
	if err != nil || len(custs) == 0 {
		f.Fatalf("mock customers: %v %v", len(custs), err)
	}
	known := custs[len(custs)/2]
	f.Fuzz(func(t *testing.T, a, b string, n int64) {
		if strings.ContainsRune(a+b, '\x00') || !utf8.ValidString(a+b) { // JSON would rewrite invalid UTF-8
			t.Skip()
		}
		flt, _ := fuzzFilter(a, b, n)
		q := Query{FormID: "BD_Customer", FieldKeys: []string{"FCUSTID"},
			Filter: And(Eq("FCUSTID", known.FCUSTID), Or(flt, Eq("FNumber", known.FNumber)))}
		rows, err := c.QueryPage(ctx, q)
		if err != nil {
			s, _ := q.Filter.Build()
			t.Fatalf("the mock refused %q: %v", s, err)
		}
		if len(rows) != 1 {
			t.Fatalf("%d rows, want customer %d alone", len(rows), known.FCUSTID)
		}
		if id, err := rows[0].Int64("FCUSTID"); err != nil || id != known.FCUSTID {
			t.Fatalf("row %v, want customer %d", rows[0], known.FCUSTID)
		}
	})
}
