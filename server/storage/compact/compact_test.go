package compact

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/server/storage"
)

func codec(t *testing.T) *Codec {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A block round-trips every field of every record (bodies with NULs and non-ASCII text, a zero
// time), numbered from the block's first sequence number, and is much smaller than its bodies.
func TestBlockRoundTrip(t *testing.T) {
	c := codec(t)
	at := time.Date(2026, 12, 1, 8, 0, 0, 123, time.UTC)
	var recs []storage.Record
	var bodies int
	for i := range 1000 {
		r := storage.Record{Seq: 501 + int64(i), SourceKey: fmt.Sprint(100000 + i*7919%100003), TargetKey: fmt.Sprintf("上海植隆贸易有限公司CUST%04d", i),
			Action: "add", Attempt: 1 + i%3, Vendor: "greatonce", Operation: "greatonce.distributor.single.sync",
			Request:  fmt.Sprintf(`{"actionType":"add","address":"上海市徐汇区漕溪北路%d号","distributorCode":"C%07d","distributorName":"植隆代理商%d"}`, i, i, i),
			Response: `{"success":true,"code":"0","message":"成功"}`, Outcome: "ok", At: at.Add(time.Duration(i) * time.Millisecond)}
		if i == 7 {
			r.Request, r.Error, r.Outcome, r.At = "req\x00body", "bad\nthing", "permanent", time.Time{}
		}
		bodies += len(r.Request) + len(r.Response)
		recs = append(recs, r)
	}
	data := c.EncodeBlock(501, recs)
	got, err := c.DecodeBlock("run-1", 501, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d records decoded, want %d", len(got), len(recs))
	}
	for i := range recs {
		want := recs[i]
		want.RunID = "run-1"
		if got[i] != want {
			t.Fatalf("record %d = %+v, want %+v", i, got[i], want)
		}
	}
	if len(data)*5 > bodies {
		t.Fatalf("block of %d bytes for %d bytes of bodies: not compressed", len(data), bodies)
	}
	t.Logf("1000 records: %d bytes of bodies, block %d bytes (%.1f per record)", bodies, len(data), float64(len(data))/1000)

	// Rows fetched one by one come from their frames (rows 1, 128, 129 and 999 of the page span
	// three frames, one fetch of the block per frame).
	fetches := 0
	bl := c.NewBlocks(func(string, int64) (int64, []byte, error) { fetches++; return 501, data, nil })
	for _, i := range []int{0, 127, 128, 999, 130} {
		r, err := bl.Get("run-1", 501+int64(i))
		want := recs[i]
		want.RunID = "run-1"
		if err != nil || r != want {
			t.Fatalf("Get(row %d) = %+v, %v", i, r, err)
		}
	}
	if fetches != 3 {
		t.Fatalf("%d block fetches for rows of 3 frames", fetches)
	}

	// PageRun from a token in the middle of the page starts at the token's frame, and stops decoding
	// when the page is full.
	page, err := c.PageRun("run-1", []Block{{FirstSeq: 501, LastSeq: 1500, Summary: Summary(recs)}},
		func(int64) ([]byte, error) { return data, nil }, storage.RecordFilter{}, 501+700, 3)
	if err != nil || len(page) != 3 || page[0].Seq != 501+701 || page[2].Seq != 501+703 || page[0].Request != recs[701].Request {
		t.Fatalf("PageRun after row 700 = %+v, %v", page, err)
	}

	// Stored relative to the first sequence number: the same bytes decode under another one.
	again, err := c.DecodeBlock("run-1", 1, data)
	if err != nil || again[0].Seq != 1 || again[999].Seq != 1000 {
		t.Fatalf("decoded under first 1: %v, seqs %d..%d", err, again[0].Seq, again[len(again)-1].Seq)
	}
}

func TestDecodeBlockRejectsGarbage(t *testing.T) {
	c := codec(t)
	good := c.EncodeBlock(1, []storage.Record{{Seq: 1, SourceKey: "K", Action: "add", Outcome: "ok"}})
	for name, b := range map[string][]byte{
		"empty": nil, "unknown version": append([]byte{9}, good[1:]...), "truncated": good[:len(good)-2], "not zstd": {blockV1, 1, 2, 3},
	} {
		if _, err := c.DecodeBlock("r", 1, b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// Payloads round-trip, compress with the dictionary, and plain JSON stored before the encoding reads
// back as is.
// samplePayloads are mapped payloads of both flows, in canonical JSON.
var samplePayloads = [][]byte{
	[]byte(`{"address":"上海市徐汇区漕溪北路88号","balance_deduct_type":"1","contact":"张伟","distributorCode":"上海植隆贸易有限公司CUST0007","distributorCompanyName":"植隆集团总部","distributorLevelName":"A","distributorName":"上海植隆贸易有限公司","mobile":"13800000000"}`),
	[]byte(`{"FADDRESS":"浙江省杭州市西湖区文三路1号","FCreateOrgId":{"FNumber":"100"},"FDescription":"金牌代理","FGroup":{"FNumber":"02"},"FINVOICEADDRESS":"","FINVOICEBANKACCOUNT":"","FINVOICEBANKNAME":"","FINVOICETEL":"","FINVOICETITLE":"杭州植隆代理商","FName":"杭州植隆代理商","FNumber":"","FTAXREGISTERCODE":"","FTRADINGCURRID":{"FNumber":"PRE001"},"FUseOrgId":{"FNumber":"100"},"F_KHLX":"KHLX02_SYS","F_out_id":"AG000042"}`),
}

func TestPayloadRoundTrip(t *testing.T) {
	c := codec(t)
	payloads := append(slices.Clone(samplePayloads), []byte(`{}`), []byte{}, []byte("x"))
	for _, p := range payloads {
		enc := c.EncodePayload(p)
		got, err := c.DecodePayload(enc)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("payload %q: decoded %q, %v", p, got, err)
		}
		if len(p) > 200 && len(enc)*2 > len(p) {
			t.Errorf("payload of %d bytes stored in %d", len(p), len(enc))
		}
		t.Logf("%d -> %d bytes", len(p), len(enc))
	}
	legacy := []byte(`{"distributorName":"甲"}`)
	if got, err := c.DecodePayload(legacy); err != nil || !bytes.Equal(got, legacy) {
		t.Fatalf("legacy payload = %q, %v", got, err)
	}
}

// Both flows' payloads are stored abbreviated by the token list; a payload of another shape, or one
// holding a byte below 0x20 (not canonical JSON), goes through zstd with the dictionary or as is;
// payloads stored with the dictionary before the tokens existed still decode; a token byte that is
// no token is an error, not a wrong payload.
func TestPayloadTokens(t *testing.T) {
	c := codec(t)
	for _, p := range samplePayloads {
		enc := c.EncodePayload(p)
		if enc[0] != payloadTokensV2 || len(enc)*2 > len(p) {
			t.Fatalf("payload of %d bytes stored as version %d in %d bytes", len(p), enc[0], len(enc))
		}
		if bytes.Contains(enc, []byte(`"FNumber"`)) || bytes.Contains(enc, []byte(`"distributorName"`)) {
			t.Fatalf("field names left in %q", enc)
		}
		// A payload stored by the version before (zstd with the dictionary) reads the same.
		v1 := c.payloadEnc.EncodeAll(p, []byte{payloadDictV1})
		if got, err := c.DecodePayload(v1); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("a version 1 payload decoded %q, %v", got, err)
		}
	}
	other := []byte(`{"name":"某客户","note":"a field list these flows do not have, repeated: a field list these flows do not have"}`)
	if enc := c.EncodePayload(other); enc[0] != payloadDictV1 {
		t.Fatalf("a payload of another shape stored as version %d", enc[0])
	}
	// Every token at the payload's edges, values that look like tokens' starts, a token's name with
	// another value, and an unterminated string.
	var all []byte
	for _, tok := range payloadTokens2 {
		all = append(all, tok...)
	}
	for _, p := range [][]byte{all, []byte(`"FNumber"`), []byte(`{"FGroup":{"FNumber":"03"},"FName":"\"FName\":\""}`),
		[]byte(`{"F_KHLX":"KHLX02_SY`), []byte(`"`), []byte(`{"mobile":"` + "\n" + `"}`), []byte("{\n\"mobile\":\"1\"}")} {
		enc := c.EncodePayload(p)
		if got, err := c.DecodePayload(enc); err != nil || !bytes.Equal(got, p) {
			t.Fatalf("payload %q (version %d): decoded %q, %v", p, enc[0], got, err)
		}
	}
	if enc := c.EncodePayload([]byte("{\"mobile\":\"1\",\n\"contact\":\"2\"}")); enc[0] == payloadTokensV2 {
		t.Fatalf("a payload with a raw newline was abbreviated: %q", enc)
	}
	for _, bad := range [][]byte{{payloadTokensV2, '{', 0}, {payloadTokensV2, byte(len(payloadTokens2) + 1)}} {
		if got, err := c.DecodePayload(bad); err == nil {
			t.Fatalf("%q decoded to %q", bad, got)
		}
	}
}

// FuzzPayloadRoundTrip: whatever the payload, it decodes to itself.
func FuzzPayloadRoundTrip(f *testing.F) {
	for _, p := range samplePayloads {
		f.Add(p)
	}
	f.Add([]byte(`{"FGroup":{"FNumber":"02"`))
	f.Add([]byte("\x01\"address\":\""))
	c, err := New()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		got, err := c.DecodePayload(c.EncodePayload(p))
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%q decoded %q, %v", p, got, err)
		}
	})
}

func TestHashRoundTrip(t *testing.T) {
	hexHash := strings.Repeat("0f", 32)
	if b := EncodeHash(hexHash); len(b) != 32 || DecodeHash(b) != hexHash {
		t.Fatalf("hex hash stored as %x", b)
	}
	for _, h := range []string{"", "h1", strings.ToUpper(hexHash), strings.Repeat("z", 64), strings.Repeat("a", 32)} {
		if got := DecodeHash(EncodeHash(h)); got != h {
			t.Errorf("hash %q read back as %q", h, got)
		}
	}
	raw, _ := hex.DecodeString(hexHash)
	if DecodeHash(raw) != hexHash {
		t.Fatal("a 32-byte hash (as migrations convert them) does not read back as hex")
	}
}

func TestSummaryAndFilters(t *testing.T) {
	recs := []storage.Record{{Action: "skip", Outcome: "skipped"}, {Action: "add", Outcome: "ok"}, {Action: "skip", Outcome: "skipped"}, {Action: "fail", Outcome: "transient"}}
	s := Summary(recs)
	if s != "add\tok\nfail\ttransient\nskip\tskipped" {
		t.Fatalf("summary %q", s)
	}
	for f, want := range map[storage.RecordFilter]bool{
		{}: true, {Action: "add"}: true, {Outcome: "transient"}: true, {Action: "fail", Outcome: "transient"}: true,
		{Action: "add", Outcome: "transient"}: false, {Action: "update"}: false, {Outcome: "permanent"}: false,
	} {
		if Matches(s, f) != want {
			t.Errorf("Matches(%+v) = %v", f, !want)
		}
	}
	if Indexed(storage.Record{Action: "skip", Outcome: "skipped"}) || !Indexed(storage.Record{Action: "skip", Outcome: "dropped"}) ||
		!Indexed(storage.Record{Action: "add", Outcome: "ok"}) {
		t.Fatal("Indexed: only unchanged skips are left out")
	}
}

// PageRun pages across blocks, skips blocks whose summary cannot match without their data, and
// Blocks decodes each block once.
func TestPageRunAndBlocks(t *testing.T) {
	c := codec(t)
	var blocks []Block
	data := map[int64][]byte{}
	seq := int64(0)
	for b := range 4 {
		var recs []storage.Record
		for i := range 5 {
			seq++
			r := storage.Record{Seq: seq, SourceKey: fmt.Sprint(seq), Action: "skip", Outcome: "skipped"}
			if b%2 == 0 && i%2 == 0 {
				r.Action, r.Outcome = "add", "ok"
			}
			recs = append(recs, r)
		}
		blocks = append(blocks, Block{FirstSeq: recs[0].Seq, LastSeq: seq, Summary: Summary(recs)})
		data[recs[0].Seq] = c.EncodeBlock(recs[0].Seq, recs)
	}
	fetched := map[int64]int{}
	get := func(first int64) ([]byte, error) { fetched[first]++; return data[first], nil }
	recs, err := c.PageRun("r", blocks, get, storage.RecordFilter{Action: "add"}, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, r := range recs {
		seqs = append(seqs, r.Seq)
	}
	if fmt.Sprint(seqs) != "[5 11 13 15]" {
		t.Fatalf("adds after 3 = %v", seqs)
	}
	if fetched[6] != 0 || fetched[1] != 1 || fetched[11] != 1 || fetched[16] != 0 {
		t.Fatalf("blocks fetched %v: the block without adds (6) and the one after the page (16) should not be", fetched)
	}

	calls := 0
	bl := c.NewBlocks(func(runID string, seq int64) (int64, []byte, error) {
		calls++
		first := (seq-1)/5*5 + 1
		return first, data[first], nil
	})
	for _, s := range []int64{12, 14, 11, 2} {
		r, err := bl.Get("r", s)
		if err != nil || r.Seq != s || r.SourceKey != fmt.Sprint(s) || r.RunID != "r" {
			t.Fatalf("Get(%d) = %+v, %v", s, r, err)
		}
	}
	if calls != 2 {
		t.Fatalf("%d block fetches for rows of 2 blocks", calls)
	}
}

// BenchmarkBlockRead: a row of a 1000-row page read as RecordHistory reads it (Blocks.Get: one
// frame decompressed, one row decoded) against the whole page decoded (as RunRecords reads it).
func BenchmarkBlockRead(b *testing.B) {
	c, err := New()
	if err != nil {
		b.Fatal(err)
	}
	var recs []storage.Record
	for i := range 1000 {
		recs = append(recs, storage.Record{Seq: 1 + int64(i), SourceKey: fmt.Sprint(100000 + i*7919%100003), TargetKey: fmt.Sprintf("上海植隆贸易有限公司CUST%04d", i),
			Action: "add", Attempt: 1, Vendor: "greatonce", Operation: "greatonce.distributor.single.sync",
			Request:  fmt.Sprintf(`{"actionType":"add","address":"上海市徐汇区漕溪北路%d号","distributorCode":"C%07d","distributorName":"植隆代理商%d"}`, i, i, i),
			Response: `{"success":true,"code":"0","message":"成功"}`, Outcome: "ok", At: time.Unix(0, int64(i+1))})
	}
	data := c.EncodeBlock(1, recs)
	b.Run("one row", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			bl := c.NewBlocks(func(string, int64) (int64, []byte, error) { return 1, data, nil })
			if _, err := bl.Get("r", 1+int64(i*7919%1000)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole page", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.DecodeBlock("r", 1, data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodePayload encodes the sample payloads (a mapping's stored payload, once per delivered
// record inside the page commit) and reports the stored bytes.
func BenchmarkEncodePayload(b *testing.B) {
	c, err := New()
	if err != nil {
		b.Fatal(err)
	}
	for i, p := range samplePayloads {
		b.Run(fmt.Sprintf("payload%d", i), func(b *testing.B) {
			var n int
			for b.Loop() {
				n = len(c.EncodePayload(p))
			}
			b.ReportMetric(float64(len(p)), "bytes-in")
			b.ReportMetric(float64(n), "bytes-stored")
		})
	}
}
