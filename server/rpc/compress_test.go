package rpc

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
)

// bigRunService answers GetRun with a page of 50 audit records shaped like a SyncCustomers run's.
type bigRunService struct{ fakeService }

func (bigRunService) GetRun(_ context.Context, req *syncgatev1.GetRunRequest) (*syncgatev1.GetRunResponse, error) {
	return getRunPage(req.GetRunId()), nil
}

func getRunPage(id string) *syncgatev1.GetRunResponse {
	out := &syncgatev1.GetRunResponse{Run: &syncgatev1.Run{Id: id, Status: syncgatev1.RunStatus_RUN_STATUS_RUNNING}}
	for i := range 50 {
		body := fmt.Sprintf(`{"address":"上海市徐汇区漕溪北路%d号","balance_deduct_type":"1","distributorCode":"C%07d","distributorCompanyName":"植隆集团总部",`+
			`"distributorName":"植隆代理商%07d","mobile":"1380000%04d","contact":"张伟","distributorLevelName":"A","actionType":"add"}`, i, i, i, i)
		out.Records = append(out.Records, &syncgatev1.RecordOutcome{SourceKey: fmt.Sprint(100001 + i), TargetKey: fmt.Sprintf("C%07d", i),
			Action: syncgatev1.Action_ACTION_ADD, Attempt: 1, Vendor: "greatonce", Operation: "greatonce.distributor.single.sync",
			Request: body, Response: `{"success":true,"code":"0","message":"成功"}`, Outcome: "ok"})
	}
	return out
}

// A large answer to a client that accepts gzip comes gzip-encoded, smaller than a third of its JSON,
// and decodes to the message the handler returned.
func TestLargeAnswersAreGzipped(t *testing.T) {
	srv := httptest.NewServer(NewMux(&bigRunService{}, MuxOptions{Auth: NewKeyAuth([]string{testKey})}))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/syncgate.v1.SyncService/GetRun", strings.NewReader(`{"runId":"r1","includeRecords":true}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+testKey)
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, Content-Encoding %q: %s", res.StatusCode, res.Header.Get("Content-Encoding"), raw)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var got syncgatev1.GetRunResponse
	if err := protojson.Unmarshal(plain, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.GetRecords()) != 50 || got.GetRecords()[49].GetTargetKey() != "C0000049" {
		t.Errorf("decoded %d records", len(got.GetRecords()))
	}
	if len(raw)*3 > len(plain) {
		t.Errorf("gzip answer %d bytes for %d bytes of JSON: not compressed", len(raw), len(plain))
	}
}

// BenchmarkGzipRunPage compresses a GetRun page of 50 records (Connect+JSON) at connect-go's default
// level and at the server's (BestSpeed), reporting the compressed size.
func BenchmarkGzipRunPage(b *testing.B) {
	plain, err := protojson.Marshal(getRunPage("r1"))
	if err != nil {
		b.Fatal(err)
	}
	for _, lvl := range []int{gzip.DefaultCompression, gzip.BestSpeed} {
		b.Run(fmt.Sprintf("level%d", lvl), func(b *testing.B) {
			w, _ := gzip.NewWriterLevel(io.Discard, lvl)
			var out bytes.Buffer
			b.SetBytes(int64(len(plain)))
			for b.Loop() {
				out.Reset()
				w.Reset(&out)
				w.Write(plain)
				w.Close()
			}
			b.ReportMetric(float64(out.Len()), "gzip-bytes")
		})
	}
}

// BenchmarkJSONRunPage encodes a GetRun page of 50 records with the JSON codec: a fresh slice per
// answer (Marshal) and into a reused buffer (MarshalAppend, as connect calls it with pooled buffers).
func BenchmarkJSONRunPage(b *testing.B) {
	page := getRunPage("r1")
	c := strictJSON{name: "json"}
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Marshal(page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MarshalAppend", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			out, err := c.MarshalAppend(buf[:0], page)
			if err != nil {
				b.Fatal(err)
			}
			buf = out
		}
	})
}

// MarshalAppend appends exactly what Marshal returns, keeping what dst held.
func TestJSONMarshalAppend(t *testing.T) {
	c := strictJSON{name: "json"}
	page := getRunPage("r1")
	want, err := c.Marshal(page)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.MarshalAppend([]byte("prefix"), page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Errorf("MarshalAppend = %.80s…, want prefix + %.80s…", got, want)
	}
	if _, err := c.MarshalAppend(nil, "not a message"); err == nil {
		t.Error("MarshalAppend of a non-message succeeded")
	}
}
