package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	_ "github.com/golang-migrate/migrate/v4/database/pgx/v5" // the pgx5:// scheme
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/migrations"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/pgtest"
	"github.com/syncgate/syncgate/server/storage/postgres"
)

// A database made at migration 1 opens with its audit rows moved from run_records into blocks (more
// than one conversion batch of 1000), every field kept, sequence numbers and paging unchanged; the
// history leaves out the unchanged skip; the mappings' hex hash and plain JSON payload read back as
// stored; and a new page of the old run is numbered after its old rows.
func TestMigration2ConvertsTrail(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	src, err := iofs.New(migrations.Postgres, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithSourceInstance("iofs", src, "pgx5"+strings.TrimPrefix(dsn, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(1); err != nil {
		t.Fatal(err)
	}
	m.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	const n = 2017
	hash := strings.Repeat("0f", 32)
	if _, err := conn.Exec(ctx, `INSERT INTO runs (id, flow, options, status, started_at) VALUES ('old', 'customers', '{}', 'succeeded', 1);
		INSERT INTO mappings (flow, source_key, target_key, payload_hash, payload, created_at, updated_at)
			VALUES ('customers', 'K1', '甲CUST1', '`+hash+`', '{"distributorName":"甲"}', 1, 2), ('customers', 'K2', 'T2', 'h-literal', '{}', 1, 2);
		INSERT INTO run_records (run_id, seq, source_key, target_key, action, attempt, vendor, operation, request, response, outcome, error, at)
			SELECT 'old', i, 'K' || (i % 3), 'T' || i, CASE WHEN i = 2 THEN 'skip' ELSE 'update' END, 1, 'greatonce', 'op',
				convert_to('{"n":' || i || '}', 'UTF8'), convert_to('resp' || i, 'UTF8'), CASE WHEN i = 2 THEN 'skipped' ELSE 'ok' END, 'e' || i, 1000 + i
			FROM generate_series(1, `+fmt.Sprint(n)+`) AS i`); err != nil {
		t.Fatal(err)
	}

	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var left, blocks int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM run_records), (SELECT count(*) FROM run_blocks WHERE run_id = 'old')`).Scan(&left, &blocks); err != nil ||
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
		if tok = next; tok == "" {
			break
		}
	}
	if len(all) != n {
		t.Fatalf("%d audit rows after conversion, want %d", len(all), n)
	}
	for i, r := range all {
		k := i + 1
		if r.Seq != int64(k) || r.SourceKey != fmt.Sprintf("K%d", k%3) || r.TargetKey != fmt.Sprintf("T%d", k) || r.Request != fmt.Sprintf(`{"n":%d}`, k) ||
			r.Response != fmt.Sprintf("resp%d", k) || r.Error != fmt.Sprintf("e%d", k) || r.At.UnixNano() != int64(1000+k) || r.Vendor != "greatonce" {
			t.Fatalf("row %d after conversion = %+v", k, r)
		}
	}
	hist, _, err := st.RecordHistory(ctx, "customers", "K2", "", n)
	if err != nil || len(hist) != (n+1)/3-1 || hist[0].Seq != n-n%3+2-3 {
		t.Fatalf("history of K2: %d rows, first %+v (%v)", len(hist), hist[:min(1, len(hist))], err)
	}
	for _, r := range hist {
		if r.Action == "skip" {
			t.Fatalf("history holds the unchanged skip: %+v", r)
		}
	}
	ms, err := st.Mappings(ctx, "customers", []string{"K1", "K2"})
	if err != nil || ms["K1"].PayloadHash != hash || string(ms["K1"].Payload) != `{"distributorName":"甲"}` ||
		ms["K2"].PayloadHash != "h-literal" || string(ms["K2"].Payload) != "{}" {
		t.Fatalf("mappings after migration 2 = %+v, %v", ms, err)
	}
	if err := st.CommitPage(ctx, storage.PageCommit{Flow: "customers", RunID: "old", Records: []storage.Record{{SourceKey: "K9", Action: "add", Outcome: "ok"}}}); err != nil {
		t.Fatal(err)
	}
	if recs, _, err := st.RunRecords(ctx, "old", storage.RecordFilter{Action: "add"}, "", 10); err != nil || len(recs) != 1 || recs[0].Seq != n+1 {
		t.Fatalf("a new page of the converted run = %+v, %v", recs, err)
	}
}
