package rpc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/engine"
)

// fakeEngine answers from fixed data and records the options it was started with.
type fakeEngine struct {
	mu      sync.Mutex
	run     engine.Run
	records []engine.RecordOutcome
	preview []engine.PreviewItem
	err     error
	started []engine.Options
}

func (f *fakeEngine) Start(_ context.Context, flow string, opts engine.Options) (engine.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return engine.Run{}, f.err
	}
	f.started = append(f.started, opts)
	r := f.run
	r.Flow = flow
	return r, nil
}

func (f *fakeEngine) Wait(context.Context, string) (engine.Run, error) { return f.run, f.err }

func (f *fakeEngine) Watch(context.Context, string) (<-chan engine.Run, error) {
	ch := make(chan engine.Run, 1)
	ch <- f.run
	close(ch)
	return ch, f.err
}

func (f *fakeEngine) GetRun(context.Context, string) (engine.Run, error) { return f.run, f.err }

func (f *fakeEngine) ListRuns(context.Context, engine.ListFilter) ([]engine.Run, string, error) {
	return []engine.Run{f.run}, "", f.err
}

func (f *fakeEngine) RunRecords(context.Context, string, string, int) ([]engine.RecordOutcome, string, error) {
	return f.records, "", f.err
}

func (f *fakeEngine) Preview(context.Context, string, engine.PreviewInput) ([]engine.PreviewItem, error) {
	return f.preview, f.err
}

// serveEngine serves the real handler over e through the real mux.
func serveEngine(t *testing.T, e Engine) string {
	t.Helper()
	srv := httptest.NewServer(NewMux(NewHandler(e, nil), MuxOptions{Auth: NewKeyAuth([]string{testKey})}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// clipped is a Chinese name cut inside its last character, as a byte-limited audit body ends.
var clipped = "上海植隆贸易有限公司"[:len("上海植隆贸易有限公司")-1]

// One stored row whose text is not valid UTF-8 must not break a page of records: every string the
// handler puts into a message is made valid, so marshalling cannot fail.
func TestGetRunWithInvalidUTF8RecordsAnswers(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	e := &fakeEngine{
		run: engine.Run{ID: "r1", Flow: engine.FlowAgents, Status: engine.StatusFailed, Error: "greatonce: " + clipped, StartedAt: at},
		records: []engine.RecordOutcome{
			{SourceKey: "A1", Request: `{"name":"` + clipped, Response: clipped, Error: clipped, Outcome: "ok", Vendor: "kingdee", At: at},
			{SourceKey: "A2", Request: `{"name":"上海"}`, Outcome: "ok", At: at},
		},
		preview: []engine.PreviewItem{{SourceKey: clipped, Body: []byte(clipped), TargetOperation: "BatchSave",
			Source:   map[string]any{"agentName": clipped},
			Warnings: []engine.Issue{{Field: "FName", Message: clipped}}}},
	}
	url := serveEngine(t, e)
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	for _, opt := range []connect.ClientOption{connect.WithProtoJSON(), connect.WithGRPCWeb()} {
		client := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, url, opt)
		resp, err := client.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: "r1", IncludeRecords: true})
		if err != nil {
			t.Fatalf("GetRun with records: %v", err)
		}
		if len(resp.GetRecords()) != 2 {
			t.Fatalf("got %d records, want 2", len(resp.GetRecords()))
		}
		r := resp.GetRecords()[0]
		for _, s := range []string{r.GetRequest(), r.GetResponse(), r.GetError(), resp.GetRun().GetError()} {
			if !utf8.ValidString(s) || !strings.Contains(s, "上海植隆贸易有限") {
				t.Fatalf("text not kept as valid UTF-8: %q", s)
			}
		}
		if resp.GetRecords()[1].GetRequest() != `{"name":"上海"}` {
			t.Fatalf("valid text changed: %q", resp.GetRecords()[1].GetRequest())
		}
		pr, err := client.Preview(ctx, &syncgatev1.PreviewRequest{Flow: syncgatev1.Flow_FLOW_AGENTS,
			Source: &syncgatev1.PreviewRequest_Keys{Keys: &syncgatev1.SourceKeys{Keys: []string{"A1"}}}})
		if err != nil {
			t.Fatalf("Preview: %v", err)
		}
		if p := pr.GetRecords()[0]; !utf8.ValidString(p.GetSourceKey()) || !utf8.ValidString(p.GetRequestBody()) ||
			!utf8.ValidString(p.GetWarnings()[0].GetMessage()) {
			t.Fatalf("preview text not valid UTF-8: %v", p)
		}
	}
}
