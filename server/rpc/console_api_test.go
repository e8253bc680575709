package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/mapping"
)

// filterEngine records the record filter GetRun passes on.
type filterEngine struct {
	fakeEngine
	got []engine.RecordFilter
}

func (f *filterEngine) FilterRunRecords(_ context.Context, _ string, rf engine.RecordFilter, _ string, _ int) ([]engine.RecordOutcome, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, rf)
	return []engine.RecordOutcome{{SourceKey: "3", Action: engine.ActionFail, Outcome: "permanent"}}, "", nil
}

// GetRun passes the audit trail's action and outcome filters to the engine; an outcome the API does not
// have is refused before the engine is asked.
func TestGetRunFiltersRecordsByActionAndOutcome(t *testing.T) {
	e := &filterEngine{fakeEngine: fakeEngine{run: engine.Run{ID: "r1", Flow: engine.FlowAgents, Status: engine.StatusPartial}}}
	c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, serveEngine(t, e))
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	res, err := c.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: "r1", IncludeRecords: true,
		Action: syncgatev1.Action_ACTION_FAIL, Outcome: "permanent"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.GetRecords()) != 1 || res.GetRecords()[0].GetAction() != syncgatev1.Action_ACTION_FAIL {
		t.Fatalf("records = %v", res.GetRecords())
	}
	if _, err := c.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: "r1", IncludeRecords: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: "r1", IncludeRecords: true, Outcome: "fine"}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("unknown outcome: %v, want InvalidArgument", err)
	}
	want := []engine.RecordFilter{{Action: engine.ActionFail, Outcome: "permanent"}, {}}
	if len(e.got) != 2 || e.got[0] != want[0] || e.got[1] != want[1] {
		t.Fatalf("engine got filters %+v, want %+v", e.got, want)
	}
}

// specEngine answers Preview with a spec that does not validate, wrapped as the engine wraps it.
type specEngine struct {
	fakeEngine
	err error
}

func (f *specEngine) PreviewReport(context.Context, string, engine.PreviewInput) (engine.PreviewResult, error) {
	return engine.PreviewResult{}, f.err
}

// A Preview spec that does not validate answers InvalidArgument with a SpecProblems detail placing each
// problem on its line and column, so a browser can mark the YAML.
func TestPreviewSpecProblemsAreAnErrorDetail(t *testing.T) {
	text, err := os.ReadFile("../mapping/specs/agents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(text), `template: "{{LAST_SYNC_TIME datetime}}"`, `template: "{{LAST_SYNC_TIME nosuchfunc}}"`, 1)
	_, specErr := mapping.Parse("request spec", []byte(broken))
	var se *mapping.SpecError
	if !errors.As(specErr, &se) || len(se.Problems) == 0 {
		t.Fatalf("the test spec should not validate: %v", specErr)
	}
	e := &specEngine{err: fmt.Errorf("%w: %w", engine.ErrInvalidInput, specErr)}
	c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, serveEngine(t, e))
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	_, err = c.Preview(ctx, &syncgatev1.PreviewRequest{Flow: syncgatev1.Flow_FLOW_AGENTS,
		Source: &syncgatev1.PreviewRequest_Pending{Pending: &syncgatev1.PendingRecords{Count: 1}}, Spec: "x"})
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
		t.Fatalf("err = %v, want InvalidArgument", err)
	}
	var got *syncgatev1.SpecProblems
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if sp, ok := v.(*syncgatev1.SpecProblems); ok {
				got = sp
			}
		}
	}
	if got == nil || len(got.GetProblems()) != len(se.Problems) {
		t.Fatalf("SpecProblems detail = %v, want %d problems", got, len(se.Problems))
	}
	p, want := got.GetProblems()[0], se.Problems[0]
	if int(p.GetLine()) != want.Line || int(p.GetColumn()) != want.Col || p.GetField() != want.Field || p.GetSection() != want.Section ||
		p.GetMessage() != want.Msg || p.GetLine() == 0 {
		t.Fatalf("problem = %v, want %+v", p, want)
	}
}

// The console mounted at "/" gets the paths nothing else serves and shadows none of the API, health,
// reflection or /metrics paths.
func TestConsoleDoesNotShadowTheAPI(t *testing.T) {
	reg := prometheus.NewRegistry()
	var consoleHits []string
	console := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		consoleHits = append(consoleHits, r.URL.Path)
		_, _ = w.Write([]byte("console"))
	})
	e := &fakeEngine{run: engine.Run{ID: "r1", Flow: engine.FlowAgents, Status: engine.StatusRunning}}
	url := serveHandler(t, NewMux(NewHandler(e, nil), MuxOptions{Auth: NewKeyAuth([]string{testKey}), Registerer: reg, Gatherer: reg, Console: console}))

	c := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, url)
	if _, err := c.GetRun(withAuth(context.Background(), "Bearer "+testKey), &syncgatev1.GetRunRequest{RunId: "r1"}); err != nil {
		t.Fatalf("GetRun with the console mounted: %v", err)
	}
	if _, err := c.GetRun(context.Background(), &syncgatev1.GetRunRequest{RunId: "r1"}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("GetRun without a key: %v", err)
	}
	res, err := http.Post(url+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "SERVING") {
		t.Fatalf("health: %d %s", res.StatusCode, body)
	}
	for path, want := range map[string]int{
		"/metrics": http.StatusUnauthorized, // guarded by the key, not the console's page
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      http.StatusHTTPVersionNotSupported, // a bidi stream: HTTP/2 only, but answered by reflection
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": http.StatusHTTPVersionNotSupported, // a bidi stream: HTTP/2 only, but answered by reflection
	} {
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
	for _, path := range []string{"/", "/index.html", "/anything/else"} {
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
	if strings.Join(consoleHits, " ") != "/ /index.html /anything/else" {
		t.Fatalf("console saw %q, want only its own paths", consoleHits)
	}
}
