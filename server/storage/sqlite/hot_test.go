package sqlite

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/compact"
)

// insertPieces cuts any number of rows into contiguous pieces of the prepared sizes, covering each
// row once.
func TestInsertPiecesCoverEveryRowOnce(t *testing.T) {
	for n := range 1500 {
		next := 0
		for start, end := range insertPieces(n) {
			if start != next || !slices.Contains(insertSizes, end-start) {
				t.Fatalf("n=%d: piece [%d,%d) after %d (sizes %v)", n, start, end, next, insertSizes)
			}
			next = end
		}
		if next != n {
			t.Fatalf("n=%d: pieces end at %d", n, next)
		}
	}
}

// sizedKeyChunks gives IN lists of the prepared sizes holding exactly the given keys: chunks of at
// most inChunk keys in order, padded with their last key.
func TestSizedKeyChunksHoldTheKeys(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 100, 399, 400, 401, 1000, 1234} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprint("k", i)
		}
		var got []string
		for in, args := range sizedKeyChunks("f", keys) {
			size := len(args) - 1
			if args[0] != "f" || !slices.Contains(inSizes, size) || in != placeholders(size) {
				t.Fatalf("n=%d: chunk of %d args, IN %q (sizes %v)", n, len(args), in, inSizes)
			}
			var chunk []string
			for _, a := range args[1:] {
				if len(chunk) == 0 || a.(string) != chunk[len(chunk)-1] {
					chunk = append(chunk, a.(string))
				}
			}
			got = append(got, chunk...)
		}
		if !slices.Equal(got, keys) {
			t.Fatalf("n=%d: chunks hold %d keys %v…", n, len(got), got[:min(5, len(got))])
		}
	}
}

// Pages of many sizes, with every part a page commit can carry, run only statements prepared at
// Open (none is prepared per call or per transaction), and everything reads back as committed: the
// mappings, the intents, the audit trail in one sequence across pages, the dead letters.
func TestHotPathRunsOnlyPreparedStatements(t *testing.T) {
	b := setup(t)
	ctx, st := b.ctx, b.st
	prepared := st.stmts.len()
	if prepared != len(hotQueries()) {
		t.Fatalf("%d statements prepared at Open, want %d", prepared, len(hotQueries()))
	}
	if err := st.CreateRun(ctx, storage.Run{ID: "r1", Flow: "agents", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	want := map[string]storage.Mapping{}
	var trail []storage.Record
	next := 0
	for _, n := range []int{1, 37, 100, 257, 1000, 3} {
		var keys []string
		var in []storage.Intent
		p := storage.PageCommit{Flow: "agents", RunID: "r1", Counts: &storage.Counts{Read: int64(next + n)},
			Window: &storage.Window{Start: at, End: at.Add(time.Hour)}, RunCursor: &storage.Cursor{Time: at, Key: fmt.Sprint(next)},
			Checkpoint: &storage.Cursor{Time: at, Key: fmt.Sprint(next + n)}}
		for i := next; i < next+n; i++ {
			key := fmt.Sprint(100000 + (i*7919)%1000003)
			keys = append(keys, key)
			in = append(in, storage.Intent{SourceKey: key, TargetKey: fmt.Sprint("T", i)})
			m := storage.Mapping{Flow: "agents", SourceKey: key, TargetKey: fmt.Sprint("T", i), PayloadHash: fmt.Sprintf("%064x", i),
				Payload: []byte(fmt.Sprintf(`{"FName":"代理商%d","F_out_id":"T%d"}`, i, i))}
			p.Mappings = append(p.Mappings, m)
			want[key] = m
			r := storage.Record{SourceKey: key, TargetKey: m.TargetKey, Action: "add", Attempt: 1, Vendor: "kingdee", Operation: "BatchSave",
				Request: string(m.Payload), Response: `{"Id":1}`, Outcome: "ok", At: at.Add(time.Duration(i) * time.Millisecond)}
			if i%3 == 0 {
				r = storage.Record{SourceKey: key, TargetKey: m.TargetKey, Action: "skip", Outcome: "skipped", At: r.At}
			}
			p.Records = append(p.Records, r)
			trail = append(trail, r)
			if i%5 == 0 {
				p.DeadLetters = append(p.DeadLetters, storage.DeadLetter{SourceKey: key, Attempts: 1, LastError: "boom", Payload: m.Payload})
			} else {
				p.Resolved = append(p.Resolved, key)
			}
		}
		if err := st.RecordIntents(ctx, "agents", in); err != nil {
			t.Fatal(err)
		}
		got, err := st.Intents(ctx, "agents", keys)
		if err != nil || len(got) != n || got[keys[n-1]] != fmt.Sprint("T", next+n-1) {
			t.Fatalf("page of %d: %d intents, %v", n, len(got), err)
		}
		p.ClearIntents = keys
		if err := st.CommitPage(ctx, p); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Intents(ctx, "agents", keys); err != nil || len(got) != 0 {
			t.Fatalf("page of %d: %d intents left after the commit, %v", n, len(got), err)
		}
		next += n
	}
	got, err := st.Mappings(ctx, "agents", slices.Collect(maps.Keys(want)))
	if err != nil || len(got) != len(want) {
		t.Fatalf("%d mappings of %d, %v", len(got), len(want), err)
	}
	for k, w := range want {
		g := got[k]
		if g.TargetKey != w.TargetKey || g.PayloadHash != w.PayloadHash || string(g.Payload) != string(w.Payload) {
			t.Fatalf("mapping %s = %+v, want %+v", k, g, w)
		}
	}
	recs, _, err := st.RunRecords(ctx, "r1", storage.RecordFilter{}, "", len(trail)+1)
	if err != nil || len(recs) != len(trail) {
		t.Fatalf("%d audit rows of %d, %v", len(recs), len(trail), err)
	}
	for i, r := range recs {
		w := trail[i]
		w.RunID, w.Seq = "r1", int64(i+1)
		if r.Seq != w.Seq || r.SourceKey != w.SourceKey || r.Action != w.Action || r.Request != w.Request || !r.At.Equal(w.At) {
			t.Fatalf("audit row %d = %+v, want %+v", i, r, w)
		}
	}
	hist, _, err := st.RecordHistory(ctx, "agents", trail[1].SourceKey, "", 10)
	if err != nil || len(hist) != 1 || hist[0].Seq != 2 {
		t.Fatalf("history of %s: %+v, %v", trail[1].SourceKey, hist, err)
	}
	letters, err := st.DeadLetters(ctx, "agents", 0)
	if err != nil || len(letters) != (next+4)/5 {
		t.Fatalf("%d dead letters, want %d, %v", len(letters), (next+4)/5, err)
	}
	if n := st.stmts.len(); n != prepared {
		t.Errorf("%d statements cached after the pages, want the %d prepared at Open", n, prepared)
	}
	if n := st.stmts.oneOff.Load(); n != 0 {
		t.Errorf("%d statements prepared for one transaction, want 0", n)
	}
}

// The bytes stored are those of the encoding before the page's CPU work moved out of its
// transaction: each block is compact's EncodeBlock of its records at their absolute sequence
// numbers (the block encoded before the run's last sequence number is known is the same), each
// mapping's payload and hash compact's encodings of them.
func TestStoredBytesAreTheOldEncoding(t *testing.T) {
	b := setup(t)
	ctx, st := b.ctx, b.st
	if err := st.CreateRun(ctx, storage.Run{ID: "r1", Flow: "customers", Options: []byte("{}"), Status: "running", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	g := footprintGen{r: rand.New(rand.NewPCG(7, 7))}
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var pages []storage.PageCommit
	for first := 0; first < 900; first += 300 {
		p := footprintPage(g, "r1", "customers", first, 300, first == 600, at.Add(time.Duration(first)*time.Second))
		if err := st.CommitPage(ctx, p); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
	}
	seq := int64(0)
	for _, p := range pages {
		recs := slices.Clone(p.Records)
		for i := range recs {
			recs[i].Seq = seq + int64(i) + 1
		}
		var data []byte
		var summary string
		if err := st.db.QueryRowContext(ctx, `SELECT data, summary FROM run_blocks WHERE run_id = 'r1' AND first_seq = ? AND last_seq = ?`,
			seq+1, seq+int64(len(recs))).Scan(&data, &summary); err != nil {
			t.Fatalf("block at %d: %v", seq+1, err)
		}
		if old := st.codec.EncodeBlock(seq+1, recs); !bytes.Equal(data, old) || summary != compact.Summary(recs) {
			t.Fatalf("block at %d: %d bytes stored, the old encoding %d; summary %q", seq+1, len(data), len(old), summary)
		}
		seq += int64(len(recs))
		for _, m := range p.Mappings {
			var hash, payload []byte
			if err := st.db.QueryRowContext(ctx, `SELECT payload_hash, payload FROM mappings WHERE flow = 'customers' AND source_key = ?`,
				m.SourceKey).Scan(&hash, &payload); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(hash, compact.EncodeHash(m.PayloadHash)) || !bytes.Equal(payload, st.codec.EncodePayload(m.Payload)) {
				t.Fatalf("mapping %s: stored hash %x payload %x", m.SourceKey, hash, payload)
			}
		}
	}
}

// A source key given more than once in a page ends as before the rows were sorted by key: the
// last mapping of the page wins, the first create intent stays.
func TestRepeatedKeysInAPageKeepTheirOrder(t *testing.T) {
	b := setup(t)
	ctx, st := b.ctx, b.st
	const rows, keys = 600, 40
	var p storage.PageCommit
	p.Flow = "agents"
	var intents []storage.Intent
	var all []string
	for i := range rows {
		k := fmt.Sprint(1000 + (i*17)%keys)
		p.Mappings = append(p.Mappings, storage.Mapping{SourceKey: k, TargetKey: fmt.Sprint("T", i), PayloadHash: "h", Payload: []byte(fmt.Sprintf(`{"n":%d}`, i))})
		intents = append(intents, storage.Intent{SourceKey: k, TargetKey: fmt.Sprint("I", i)})
		all = append(all, k)
	}
	if err := st.RecordIntents(ctx, "agents", intents); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitPage(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := st.Mappings(ctx, "agents", all)
	if err != nil || len(got) != keys {
		t.Fatalf("%d mappings, %v", len(got), err)
	}
	in, err := st.Intents(ctx, "agents", all)
	if err != nil || len(in) != keys {
		t.Fatalf("%d intents, %v", len(in), err)
	}
	for i := rows - keys; i < rows; i++ { // the last row of each key
		m := p.Mappings[i]
		if g := got[m.SourceKey]; g.TargetKey != m.TargetKey || string(g.Payload) != string(m.Payload) {
			t.Errorf("mapping %s = %s %s, want the page's last, %s %s", m.SourceKey, g.TargetKey, g.Payload, m.TargetKey, m.Payload)
		}
	}
	for i := range keys { // the first intent of each key
		if g := in[intents[i].SourceKey]; g != intents[i].TargetKey {
			t.Errorf("intent %s = %s, want the first, %s", intents[i].SourceKey, g, intents[i].TargetKey)
		}
	}
}
