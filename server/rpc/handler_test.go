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
	"google.golang.org/protobuf/types/known/timestamppb"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/engine"
)

// fakeEngine answers from fixed data and records the options it was started with.
type fakeEngine struct {
	Engine  // the methods a test does not use: calling one panics
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

func (f *fakeEngine) FilterRunRecords(context.Context, string, engine.RecordFilter, string, int) ([]engine.RecordOutcome, string, error) {
	return f.records, "", f.err
}

func (f *fakeEngine) PreviewReport(context.Context, string, engine.PreviewInput) (engine.PreviewResult, error) {
	return engine.PreviewResult{Items: f.preview, SourcePages: 3}, f.err
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
		if pr.GetSourcePagesRead() != 3 {
			t.Fatalf("source_pages_read = %d, want the engine's 3", pr.GetSourcePagesRead())
		}
	}
}

// A run's own window can be sent back as a request window and reads the same interval: a run from
// the beginning reports no start, and a request window without a start means from the beginning.
func TestRunWindowRoundTrips(t *testing.T) {
	end := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	start := end.Add(-time.Hour)
	for _, tt := range []struct {
		name  string
		start time.Time
	}{{"from the beginning", time.Time{}}, {"from a checkpoint", start}} {
		t.Run(tt.name, func(t *testing.T) {
			e := &fakeEngine{run: engine.Run{ID: "r1", Flow: engine.FlowAgents, Status: engine.StatusSucceeded,
				WindowStart: tt.start, WindowEnd: end, StartedAt: end}}
			client := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, serveEngine(t, e), connect.WithProtoJSON())
			ctx := withAuth(context.Background(), "Bearer "+testKey)
			got, err := client.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: "r1"})
			if err != nil {
				t.Fatal(err)
			}
			w := got.GetRun().GetWindow()
			if w.GetEnd() == nil || (w.GetStart() != nil) != !tt.start.IsZero() {
				t.Fatalf("window %v", w)
			}
			if _, err := client.SyncAgents(ctx, &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Window: w}}); err != nil {
				t.Fatalf("sending the run's window back: %v", err)
			}
			if len(e.started) != 1 || e.started[0].Window == nil {
				t.Fatalf("engine started with %+v", e.started)
			}
			if sw := e.started[0].Window; !sw.Start.Equal(tt.start) || sw.Start.IsZero() != tt.start.IsZero() || !sw.End.Equal(end) {
				t.Fatalf("engine window %v..%v, want %v..%v", sw.Start, sw.End, tt.start, end)
			}
		})
	}

	// A request window still needs an end, and a start before it.
	client := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, serveEngine(t, &fakeEngine{}))
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	for _, w := range []*syncgatev1.TimeWindow{
		{Start: timestamppb.New(start)},
		{Start: timestamppb.New(end), End: timestamppb.New(start)},
	} {
		_, err := client.SyncAgents(ctx, &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{Window: w}})
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("window %v: %v, want invalid argument", w, err)
		}
	}
}
