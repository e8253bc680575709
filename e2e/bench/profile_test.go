package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// -settle starts the gateway's and the mocks' debug listeners without -profile: no profile is then
// taken, nor written into the working directory.
func TestNoProfileWithoutProfileDir(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Write([]byte("profile"))
	}))
	defer srv.Close()
	t.Chdir(t.TempDir())
	profileDir = ""
	startProfile(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "agents-1.pprof")()
	if n := asked.Load(); n != 0 {
		t.Errorf("a profile was asked for %d times without -profile", n)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("files written without -profile: %v", entries)
	}

	profileDir = t.TempDir()
	defer func() { profileDir = "" }()
	startProfile(context.Background(), strings.TrimPrefix(srv.URL, "http://"), "agents-1.pprof")()
	if b, err := os.ReadFile(profileDir + "/agents-1.pprof"); err != nil || string(b) != "profile" {
		t.Errorf("with -profile: %q, %v", b, err)
	}
}
