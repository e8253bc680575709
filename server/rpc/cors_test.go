package rpc

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
)

const allowedOrigin = "https://console.example.com"

func newCORSServer(t *testing.T, origins []string) (*httptest.Server, *fakeService) {
	t.Helper()
	svc := &fakeService{}
	srv := httptest.NewServer(NewMux(svc, MuxOptions{Auth: NewKeyAuth([]string{testKey}), AllowedOrigins: origins}))
	t.Cleanup(srv.Close)
	return srv, svc
}

func preflight(t *testing.T, url, origin, headers string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url+syncgatev1connect.SyncServiceGetRunProcedure, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	req.Header.Set("Access-Control-Request-Headers", headers)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestCORSPreflightFromAnAllowedOrigin(t *testing.T) {
	srv, svc := newCORSServer(t, []string{allowedOrigin})
	// Browsers send Access-Control-Request-Headers lower-case and sorted (Fetch standard).
	resp := preflight(t, srv.URL, allowedOrigin, "authorization,connect-protocol-version,content-type,x-grpc-web")
	if resp.StatusCode/100 != 2 {
		t.Fatalf("preflight answered %s", resp.Status)
	}
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != allowedOrigin {
		t.Fatalf("Access-Control-Allow-Origin = %q", h.Get("Access-Control-Allow-Origin"))
	}
	if !strings.Contains(h.Get("Access-Control-Allow-Methods"), http.MethodPost) {
		t.Fatalf("Access-Control-Allow-Methods = %q", h.Get("Access-Control-Allow-Methods"))
	}
	allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
	for _, want := range []string{"authorization", "content-type", "connect-protocol-version", "x-grpc-web"} {
		if !strings.Contains(allowed, want) {
			t.Fatalf("Access-Control-Allow-Headers = %q lacks %s", allowed, want)
		}
	}
	if h.Get("Access-Control-Max-Age") == "" {
		t.Fatal("no Access-Control-Max-Age")
	}
	if svc.calls != 0 {
		t.Fatal("a preflight reached the handler")
	}
	// A header no protocol uses is not allowed.
	if got := preflight(t, srv.URL, allowedOrigin, "x-evil").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("preflight for an unknown header allowed (%q)", got)
	}
}

func TestCORSDisallowedOriginGetsNoHeaders(t *testing.T) {
	for name, origins := range map[string][]string{"other origin configured": {allowedOrigin}, "none configured (default)": nil} {
		t.Run(name, func(t *testing.T) {
			srv, _ := newCORSServer(t, origins)
			resp := preflight(t, srv.URL, "https://evil.example.net", "authorization,content-type")
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Fatalf("CORS header %s: %q sent to a disallowed origin", k, resp.Header.Get(k))
				}
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+syncgatev1connect.SyncServiceGetRunProcedure, strings.NewReader(`{"runId":"r"}`))
			req.Header.Set("Origin", "https://evil.example.net")
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Fatalf("actual request from a disallowed origin got Access-Control-Allow-Origin %q", got)
			}
		})
	}
}

func TestCORSActualRequestFromAnAllowedOrigin(t *testing.T) {
	srv, _ := newCORSServer(t, []string{"https://*.example.com"})
	origin := allowedOrigin
	// Connect JSON, as Connect-Web sends it.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+syncgatev1connect.SyncServiceGetRunProcedure, strings.NewReader(`{"runId":"r-1"}`))
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"r-1"`) {
		t.Fatalf("%s %s", resp.Status, body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("Access-Control-Allow-Origin = %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
	for _, want := range []string{"grpc-status", "grpc-message", "grpc-status-details-bin"} {
		if !strings.Contains(exposed, want) {
			t.Fatalf("Access-Control-Expose-Headers = %q lacks %s", exposed, want)
		}
	}
	// gRPC-Web from the browser origin, through the Connect client; the key check still applies.
	var got http.Header
	client := syncgatev1connect.NewSyncServiceClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.Header.Set("Origin", origin)
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			got = resp.Header
		}
		return resp, err
	})}, srv.URL, connect.WithGRPCWeb())
	if _, err := client.GetRun(withAuth(context.Background(), "Bearer "+testKey), &syncgatev1.GetRunRequest{RunId: "r-2"}); err != nil {
		t.Fatal(err)
	}
	if got.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("gRPC-Web answer without Access-Control-Allow-Origin: %v", got)
	}
	if _, err := client.GetRun(context.Background(), &syncgatev1.GetRunRequest{RunId: "r-2"}); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("cross-origin call without a key: %v", err)
	}
}
