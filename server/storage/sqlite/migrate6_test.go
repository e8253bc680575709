package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncgate/syncgate/server/storage"
)

// A database made at migration 5 opens with its audit rows moved from run_records into blocks (more
// than one conversion batch), every field kept, sequence numbers and paging unchanged; their history
// (the unchanged skip left out), the mappings (hex hash and plain JSON payload as migration 5 stored
// them) read back as before, and a new page of the old run is numbered after its old rows.
func TestMigration6ConvertsTrail(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m6.db")
	legacyAt(t, path, 5)
	const n = legacyBatch*2 + 17
	hash := strings.Repeat("0f", 32)
	queries := []string{
		`INSERT INTO runs (id, flow, options, status, started_at) VALUES ('old', 'customers', '{}', 'succeeded', 1)`,
		`INSERT INTO mappings (flow, source_key, target_key, payload_hash, payload, created_at, updated_at)
			VALUES ('customers', 'K1', '甲CUST1', '` + hash + `', '{"distributorName":"甲"}', 1, 2), ('customers', 'K2', 'T2', 'h-literal', '{}', 1, 2)`,
	}
	var values []string
	for i := 1; i <= n; i++ {
		action, outcome := "update", "ok"
		if i == 2 {
			action, outcome = "skip", "skipped"
		}
		values = append(values, fmt.Sprintf(`('old', %d, 'K%d', 'T%d', '%s', 1, 'greatonce', 'op', '{"n":%d}', 'resp%d', '%s', 'e%d', %d)`,
			i, i%3, i, action, i, i, outcome, i, 1000+i))
	}
	queries = append(queries, `INSERT INTO run_records (run_id, seq, source_key, target_key, action, attempt, vendor, operation, request, response, outcome, error, at) VALUES `+
		strings.Join(values, ","))
	execRaw(t, path, queries...)

	st := openOrFail(t, path)
	wantVersion(t, st, 7)
	var left, blocks int
	if err := st.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM run_records), (SELECT count(*) FROM run_blocks WHERE run_id = 'old')`).Scan(&left, &blocks); err != nil ||
		left != 0 || blocks != 3 {
		t.Fatalf("after open: %d rows left in run_records, %d blocks (%v)", left, blocks, err)
	}
	var all []storage.Record
	tok := ""
	for {
		recs, next, err := st.RunRecords(ctx, "old", storage.RecordFilter{}, tok, 700)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
		if next == "" {
			break
		}
		tok = next
	}
	if len(all) != n {
		t.Fatalf("%d audit rows after conversion, want %d", len(all), n)
	}
	for i, r := range all {
		k := i + 1
		if r.Seq != int64(k) || r.RunID != "old" || r.SourceKey != fmt.Sprintf("K%d", k%3) || r.TargetKey != fmt.Sprintf("T%d", k) || r.Attempt != 1 ||
			r.Vendor != "greatonce" || r.Operation != "op" || r.Request != fmt.Sprintf(`{"n":%d}`, k) || r.Response != fmt.Sprintf("resp%d", k) ||
			r.Error != fmt.Sprintf("e%d", k) || r.At.UnixNano() != int64(1000+k) {
			t.Fatalf("row %d after conversion = %+v", k, r)
		}
	}
	newest := int64(n)
	for newest%3 != 2 {
		newest--
	}
	hist, _, err := st.RecordHistory(ctx, "customers", "K2", "", 5)
	if err != nil || len(hist) != 5 || hist[0].Seq != newest || hist[0].Request != fmt.Sprintf(`{"n":%d}`, newest) {
		t.Fatalf("history of K2 = %+v, %v", hist, err)
	}
	hist, _, err = st.RecordHistory(ctx, "customers", "K2", "", n)
	if err != nil || len(hist) != int(newest+1)/3-1 {
		t.Fatalf("whole history of K2: %d rows (%v), want %d (all but the unchanged skip)", len(hist), err, (newest+1)/3-1)
	}
	for _, r := range hist {
		if r.Action == "skip" {
			t.Fatalf("history holds the unchanged skip: %+v", r)
		}
	}
	ms, err := st.Mappings(ctx, "customers", []string{"K1", "K2"})
	if err != nil || ms["K1"].PayloadHash != hash || string(ms["K1"].Payload) != `{"distributorName":"甲"}` || ms["K1"].TargetKey != "甲CUST1" ||
		ms["K2"].PayloadHash != "h-literal" || string(ms["K2"].Payload) != "{}" {
		t.Fatalf("mappings after migration 6 = %+v, %v", ms, err)
	}
	if err := st.CommitPage(ctx, storage.PageCommit{Flow: "customers", RunID: "old", Records: []storage.Record{{SourceKey: "K9", Action: "add", Outcome: "ok"}}}); err != nil {
		t.Fatal(err)
	}
	if recs, _, err := st.RunRecords(ctx, "old", storage.RecordFilter{Action: "add"}, "", 10); err != nil || len(recs) != 1 || recs[0].Seq != n+1 {
		t.Fatalf("a new page of the converted run = %+v, %v", recs, err)
	}
}
