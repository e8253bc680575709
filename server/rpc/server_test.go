package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
)

const testKey = "test-key-0123456789"

// fakeService answers GetRun deterministically and streams WatchRun slowly, so the tests exercise the
// transport, interceptors and protocols rather than the engine.
type fakeService struct {
	syncgatev1connect.UnimplementedSyncServiceHandler
	calls      int
	watchEvery time.Duration
}

func (f *fakeService) GetRun(_ context.Context, req *syncgatev1.GetRunRequest) (*syncgatev1.GetRunResponse, error) {
	f.calls++
	if req.GetRunId() == badUTF8RunID {
		// An audit body clipped inside a UTF-8 sequence: proto3 strings must be valid UTF-8, so this
		// response cannot be marshalled after the handler returned.
		return &syncgatev1.GetRunResponse{Run: &syncgatev1.Run{Id: req.GetRunId(), Error: "上海植隆\xe8\xb4"}}, nil
	}
	return &syncgatev1.GetRunResponse{Run: &syncgatev1.Run{
		Id:        req.GetRunId(),
		Flow:      syncgatev1.Flow_FLOW_AGENTS,
		Status:    syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED,
		Counts:    &syncgatev1.RunCounts{Read: 3, Added: 2, Skipped: 1},
		StartedAt: timestamppb.New(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)),
	}}, nil
}

func (f *fakeService) WatchRun(ctx context.Context, req *syncgatev1.WatchRunRequest, stream *connect.ServerStream[syncgatev1.WatchRunResponse]) error {
	for i := range 3 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.watchEvery):
		}
		st := syncgatev1.RunStatus_RUN_STATUS_RUNNING
		if i == 2 {
			st = syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED
		}
		if err := stream.Send(&syncgatev1.WatchRunResponse{Run: &syncgatev1.Run{Id: req.GetRunId(), Status: st, Counts: &syncgatev1.RunCounts{Read: int64(i + 1)}}}); err != nil {
			return err
		}
	}
	return nil
}

// badUTF8RunID makes fakeService answer a GetRun response that cannot be marshalled.
const badUTF8RunID = "bad-utf8"

type bundle struct {
	url  string
	svc  *fakeService
	mux  *Mux
	reg  *prometheus.Registry
	logs *syncBuffer
}

// newBundle serves a fake service through the real mux and http.Server (HTTP/1.1 + h2c) on loopback.
func newBundle(t *testing.T, timeouts ServerTimeouts, watchEvery time.Duration) *bundle {
	t.Helper()
	svc := &fakeService{watchEvery: watchEvery}
	reg := prometheus.NewRegistry()
	logs := &syncBuffer{}
	mux := NewMux(svc, MuxOptions{Auth: NewKeyAuth([]string{testKey}), Registerer: reg, Gatherer: reg,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(ln.Addr().String(), mux, timeouts, nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &bundle{url: "http://" + ln.Addr().String(), svc: svc, mux: mux, reg: reg, logs: logs}
}

func h2cClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

// withAuth returns a context whose Connect calls carry the given Authorization header.
func withAuth(ctx context.Context, value string) context.Context {
	ctx, ci := connect.NewClientContext(ctx)
	if value != "" {
		ci.RequestHeader().Set("Authorization", value)
	}
	return ctx
}

func TestSameAnswerOverConnectGRPCAndGRPCWeb(t *testing.T) {
	b := newBundle(t, ServerTimeouts{}, 0)
	ctx := context.Background()
	req := &syncgatev1.GetRunRequest{RunId: "run-42"}

	// Connect protocol: plain JSON over HTTP/1.1, as curl would send it.
	httpReq, _ := http.NewRequest(http.MethodPost, b.url+syncgatev1connect.SyncServiceGetRunProcedure, strings.NewReader(`{"runId":"run-42"}`))
	httpReq.Header.Set("Content-Type", "application/json")
	httpReq.Header.Set("Authorization", "Bearer "+testKey)
	httpResp, err := http.DefaultClient.Do(httpReq)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(httpResp.Body)
	httpResp.Body.Close()
	if httpResp.StatusCode != 200 || httpResp.ProtoMajor != 1 {
		t.Fatalf("connect JSON: %s %s %s", httpResp.Proto, httpResp.Status, body)
	}
	var viaConnect syncgatev1.GetRunResponse
	if err := protojson.Unmarshal(body, &viaConnect); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}

	// gRPC through a grpc-go client stub over h2c.
	conn, err := grpc.NewClient(strings.TrimPrefix(b.url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	gctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+testKey)
	viaGRPC, err := syncgatev1.NewSyncServiceClient(conn).GetRun(gctx, req)
	if err != nil {
		t.Fatal(err)
	}

	// gRPC-Web through the Connect client over HTTP/1.1.
	web := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, b.url, connect.WithGRPCWeb())
	viaWeb, err := web.GetRun(withAuth(ctx, "Bearer "+testKey), req)
	if err != nil {
		t.Fatal(err)
	}

	if viaConnect.GetRun().GetId() != "run-42" {
		t.Fatalf("unexpected answer %v", &viaConnect)
	}
	if !proto.Equal(&viaConnect, viaGRPC) || !proto.Equal(&viaConnect, viaWeb) {
		t.Fatalf("answers differ:\nconnect %v\ngrpc    %v\ngrpcweb %v", &viaConnect, viaGRPC, viaWeb)
	}
	if b.svc.calls != 3 {
		t.Fatalf("handler ran %d times, want 3", b.svc.calls)
	}
}

func TestAuthAndValidation(t *testing.T) {
	b := newBundle(t, ServerTimeouts{}, 0)
	client := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, b.url)
	ctx := context.Background()

	tests := []struct {
		name   string
		header string
		req    *syncgatev1.GetRunRequest
		want   connect.Code
	}{
		{"no key", "", &syncgatev1.GetRunRequest{RunId: "x"}, connect.CodeUnauthenticated},
		{"wrong key", "Bearer nope", &syncgatev1.GetRunRequest{RunId: "x"}, connect.CodeUnauthenticated},
		{"basic scheme", "Basic " + testKey, &syncgatev1.GetRunRequest{RunId: "x"}, connect.CodeUnauthenticated},
		{"no key and invalid request still says unauthenticated", "", &syncgatev1.GetRunRequest{}, connect.CodeUnauthenticated},
		{"invalid request", "Bearer " + testKey, &syncgatev1.GetRunRequest{RunId: ""}, connect.CodeInvalidArgument},
		{"page size out of range", "Bearer " + testKey, &syncgatev1.GetRunRequest{RunId: "x", PageSize: 5000}, connect.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.svc.calls
			_, err := client.GetRun(withAuth(ctx, tt.header), tt.req)
			if connect.CodeOf(err) != tt.want {
				t.Fatalf("code = %v (%v), want %v", connect.CodeOf(err), err, tt.want)
			}
			if b.svc.calls != before {
				t.Fatal("handler code ran for a refused request")
			}
			if tt.want == connect.CodeInvalidArgument {
				var ce *connect.Error
				if !errors.As(err, &ce) || len(ce.Details()) == 0 || !strings.Contains(ce.Message(), "runId") && !strings.Contains(ce.Message(), "pageSize") {
					t.Fatalf("invalid argument without violations named as JSON fields: %v", err)
				}
			}
		})
	}

	// Same through gRPC.
	conn, _ := grpc.NewClient(strings.TrimPrefix(b.url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	_, err := syncgatev1.NewSyncServiceClient(conn).GetRun(ctx, &syncgatev1.GetRunRequest{RunId: "x"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("grpc without key: %v", err)
	}

	// /metrics is guarded by the same keys.
	resp, err := http.Get(b.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without key: %d", resp.StatusCode)
	}
	mreq, _ := http.NewRequest(http.MethodGet, b.url+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer "+testKey)
	resp, err = http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `syncgate_rpc_calls_total{code="unauthenticated",procedure="/syncgate.v1.SyncService/GetRun"}`) {
		t.Fatalf("metrics do not count refused calls:\n%s", metrics)
	}
}

func TestHealthAndReflectionAreOpen(t *testing.T) {
	b := newBundle(t, ServerTimeouts{}, 0)
	conn, err := grpc.NewClient(strings.TrimPrefix(b.url, "http://"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: syncgatev1connect.SyncServiceName})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", resp, err)
	}
	b.mux.Health.SetStatus("", grpchealth.StatusNotServing)
	resp, err = hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after shutdown began = %v, %v", resp, err)
	}

	rc := grpcreflect.NewClient(h2cClient(), b.url)
	stream := rc.NewStream(context.Background())
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, syncgatev1connect.SyncServiceName) {
		t.Fatalf("reflection lists %v", names)
	}
	files, err := stream.FileContainingSymbol(syncgatev1connect.SyncServiceName)
	if err != nil || len(files) == 0 {
		t.Fatalf("reflection file lookup: %v", err)
	}
	// v1alpha, for older grpcurl builds: the handler is mounted at its path.
	resp2, err := http.Post(b.url+"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", "application/grpc-web+proto", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode == http.StatusNotFound {
		t.Fatal("reflection v1alpha is not mounted")
	}
}

// A slow server stream over h2c must survive the header and read timeouts (golang/go#80876).
func TestSlowStreamOverH2CSurvivesTimeouts(t *testing.T) {
	b := newBundle(t, ServerTimeouts{ReadHeader: 100 * time.Millisecond, Read: 150 * time.Millisecond}, 150*time.Millisecond)
	client := syncgatev1connect.NewSyncServiceClient(h2cClient(), b.url, connect.WithGRPC())
	stream, err := client.WatchRun(withAuth(context.Background(), "Bearer "+testKey), &syncgatev1.WatchRunRequest{RunId: "r"})
	if err != nil {
		t.Fatal(err)
	}
	var got []syncgatev1.RunStatus
	for stream.Receive() {
		got = append(got, stream.Msg().GetRun().GetStatus())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream broke after %d messages: %v", len(got), err)
	}
	if len(got) != 3 || got[2] != syncgatev1.RunStatus_RUN_STATUS_SUCCEEDED {
		t.Fatalf("got %v", got)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	svc := &fakeService{}
	mux := NewMux(svc, MuxOptions{MaxRequestBytes: 1024})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := syncgatev1connect.NewSyncServiceClient(srv.Client(), srv.URL)
	_, err := client.GetRun(context.Background(), &syncgatev1.GetRunRequest{RunId: "x", PageToken: strings.Repeat("a", 2000)})
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("oversized request: %v", err)
	}
}

func TestCheckExposure(t *testing.T) {
	tests := []struct {
		addr           string
		keys, insecure bool
		ok             bool
	}{
		{"127.0.0.1:8080", false, false, true},
		{"localhost:8080", false, false, true},
		{"[::1]:8080", false, false, true},
		{"0.0.0.0:8080", false, false, false},
		{":8080", false, false, false},
		{"10.1.2.3:8080", false, false, false},
		{"0.0.0.0:8080", true, false, true},
		{"0.0.0.0:8080", false, true, true},
		{"nonsense", false, false, false},
	}
	for _, tt := range tests {
		err := CheckExposure(tt.addr, tt.keys, tt.insecure)
		if (err == nil) != tt.ok {
			t.Errorf("CheckExposure(%q, keys=%v, insecure=%v) = %v", tt.addr, tt.keys, tt.insecure, err)
		}
	}
}

// syncBuffer is a log sink the server writes to while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// callCount is the value of syncgate_rpc_calls_total for one procedure and code.
func callCount(t *testing.T, reg prometheus.Gatherer, procedure, code string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "syncgate_rpc_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["procedure"] == procedure && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A response that fails to marshal after the handler returned reaches the client as Internal; the log
// and syncgate_rpc_calls_total must say so too, whichever protocol carried the call.
func TestObserverRecordsTheCodeTheClientGot(t *testing.T) {
	b := newBundle(t, ServerTimeouts{}, 0)
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	req := &syncgatev1.GetRunRequest{RunId: badUTF8RunID}
	clients := map[string]syncgatev1connect.SyncServiceClient{
		"connect+proto": syncgatev1connect.NewSyncServiceClient(http.DefaultClient, b.url),
		"connect+json":  syncgatev1connect.NewSyncServiceClient(http.DefaultClient, b.url, connect.WithProtoJSON()),
		"grpc":          syncgatev1connect.NewSyncServiceClient(h2cClient(), b.url, connect.WithGRPC()),
		"grpc-web":      syncgatev1connect.NewSyncServiceClient(http.DefaultClient, b.url, connect.WithGRPCWeb()),
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			before := callCount(t, b.reg, syncgatev1connect.SyncServiceGetRunProcedure, "internal")
			_, err := client.GetRun(ctx, req)
			if connect.CodeOf(err) != connect.CodeInternal {
				t.Fatalf("client got %v (%v), want internal", connect.CodeOf(err), err)
			}
			if got := callCount(t, b.reg, syncgatev1connect.SyncServiceGetRunProcedure, "internal"); got != before+1 {
				t.Fatalf("syncgate_rpc_calls_total{code=internal} went %v -> %v; ok count is %v", before, got,
					callCount(t, b.reg, syncgatev1connect.SyncServiceGetRunProcedure, "ok"))
			}
		})
	}
	if n := callCount(t, b.reg, syncgatev1connect.SyncServiceGetRunProcedure, "ok"); n != 0 {
		t.Fatalf("%v failed calls counted as ok", n)
	}
	if logs := b.logs.String(); !strings.Contains(logs, "code=internal") || strings.Contains(logs, "code=ok") {
		t.Fatalf("the RPC log does not record the code the client got:\n%s", logs)
	}

	// A good call is still ok over each protocol.
	for name, client := range clients {
		if _, err := client.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: "fine"}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if n := callCount(t, b.reg, syncgatev1connect.SyncServiceGetRunProcedure, "ok"); n != float64(len(clients)) {
		t.Fatalf("ok count = %v, want %d", n, len(clients))
	}
}

// The read-only RPCs answer Connect GET requests (cacheable URLs), behind the same key check.
func TestGetRunByHTTPGet(t *testing.T) {
	b := newBundle(t, ServerTimeouts{}, 0)
	get := func(procedure, message, key string) (*http.Response, []byte) {
		t.Helper()
		q := url.Values{"encoding": {"json"}, "message": {message}}
		req, _ := http.NewRequest(http.MethodGet, b.url+procedure+"?"+q.Encode(), nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	resp, body := get(syncgatev1connect.SyncServiceGetRunProcedure, `{"runId":"run-7"}`, testKey)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET GetRun: %s %s", resp.Status, body)
	}
	var got syncgatev1.GetRunResponse
	if err := protojson.Unmarshal(body, &got); err != nil || got.GetRun().GetId() != "run-7" {
		t.Fatalf("GET GetRun answered %s (%v)", body, err)
	}
	calls := b.svc.calls
	for _, key := range []string{"", "wrong"} {
		if resp, body := get(syncgatev1connect.SyncServiceGetRunProcedure, `{"runId":"run-7"}`, key); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET without a valid key: %s %s", resp.Status, body)
		}
	}
	if b.svc.calls != calls {
		t.Fatal("the handler ran for a GET without a valid key")
	}
	if n := callCount(t, b.reg, syncgatev1connect.SyncServiceGetRunProcedure, "unauthenticated"); n != 2 {
		t.Fatalf("unauthenticated GETs counted %v times, want 2", n)
	}
	// Calls with side effects stay POST only.
	if resp, body := get(syncgatev1connect.SyncServiceSyncAgentsProcedure, `{}`, testKey); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET SyncAgents: %s %s", resp.Status, body)
	}

	// The generated Connect client sends GET for them when asked to.
	var methods []string
	client := syncgatev1connect.NewSyncServiceClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		methods = append(methods, r.Method)
		return http.DefaultTransport.RoundTrip(r)
	})}, b.url, connect.WithHTTPGet())
	if _, err := client.GetRun(withAuth(context.Background(), "Bearer "+testKey), &syncgatev1.GetRunRequest{RunId: "run-8"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(methods, []string{http.MethodGet}) {
		t.Fatalf("client used %v", methods)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A JSON request naming a field or enum value the API does not have is refused, naming it, instead
// of being read as if the name were absent (which listed every flow for {"flow":"AGENTS"}).
func TestUnknownJSONNamesAreInvalidArgument(t *testing.T) {
	b := newBundle(t, ServerTimeouts{}, 0)
	post := func(procedure, contentType, body string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, b.url+procedure, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var wire struct{ Code, Message string }
		_ = json.Unmarshal(raw, &wire)
		return resp.StatusCode, wire.Code, wire.Message
	}
	tests := []struct{ procedure, body, name string }{
		{syncgatev1connect.SyncServiceListRunsProcedure, `{"flow":"AGENTS"}`, `"AGENTS"`},
		{syncgatev1connect.SyncServiceGetRunProcedure, `{"runId":"x","includeRecord":true}`, `"includeRecord"`},
		{syncgatev1connect.SyncServiceGetRunProcedure, `{"run":"x"}`, `"run"`},
	}
	for _, tt := range tests {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8"} {
			status, code, msg := post(tt.procedure, ct, tt.body)
			if status != http.StatusBadRequest || code != "invalid_argument" || !strings.Contains(msg, tt.name) {
				t.Errorf("%s %s (%s): %d %s %q, want invalid_argument naming %s", tt.procedure, tt.body, ct, status, code, msg, tt.name)
			}
		}
	}
	if b.svc.calls != 0 {
		t.Fatalf("handler ran %d times for refused requests", b.svc.calls)
	}
	// Known names (camelCase or the proto names) still work.
	for _, body := range []string{`{"runId":"x","includeRecords":true}`, `{"run_id":"x"}`} {
		if status, code, msg := post(syncgatev1connect.SyncServiceGetRunProcedure, "application/json", body); status != http.StatusOK {
			t.Errorf("%s: %d %s %s", body, status, code, msg)
		}
	}
	if n := callCount(t, b.reg, syncgatev1connect.SyncServiceListRunsProcedure, "invalid_argument"); n != 2 {
		t.Errorf("refused ListRuns calls counted %v times, want 2", n)
	}
}

// Validation messages name fields as JSON callers write them, nested and indexed paths included, over
// every protocol and for the server stream too.
func TestValidationNamesJSONFields(t *testing.T) {
	b := newBundle(t, ServerTimeouts{}, 0)
	ctx := withAuth(context.Background(), "Bearer "+testKey)
	for name, opts := range map[string][]connect.ClientOption{
		"connect+json": {connect.WithProtoJSON()}, "grpc-web": {connect.WithGRPCWeb()},
	} {
		client := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, b.url, opts...)
		_, err := client.SyncAgents(ctx, &syncgatev1.SyncAgentsRequest{Options: &syncgatev1.SyncOptions{
			SourceKeys: []string{"a", ""},
			Window:     &syncgatev1.TimeWindow{Start: timestamppb.New(time.Unix(200, 0))},
		}})
		msg := connectMessage(err)
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("%s: %v", name, err)
		}
		for _, want := range []string{"options.sourceKeys[1]: ", "options.window.end: ", "options.window: start must be before end"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: message %q lacks %q", name, msg, want)
			}
		}
		if strings.Contains(msg, "source_keys") {
			t.Errorf("%s: proto field name in %q", name, msg)
		}
		stream, err := client.WatchRun(ctx, &syncgatev1.WatchRunRequest{})
		if err == nil {
			for stream.Receive() {
			}
			err = stream.Err()
		}
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(connectMessage(err), "runId: ") {
			t.Errorf("%s: WatchRun without run id: %v", name, err)
		}
	}
}
