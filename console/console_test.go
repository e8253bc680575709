package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHandlerServesTheApp(t *testing.T) {
	root := fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><title>syncgate</title>")},
		"assets/index-abc1.js": {Data: []byte("console.log(1)")},
		"favicon.svg":          {Data: []byte("<svg/>")},
	}
	h := handler(root)
	get := func(method, target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		return w
	}
	for _, target := range []string{"/", "/index.html", "/runs/abc", "/deep/link?x=1"} {
		w := get(http.MethodGet, target)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "<title>syncgate</title>") {
			t.Errorf("GET %s: %d %q, want index.html", target, w.Code, w.Body.String())
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", target, cc)
		}
	}
	w := get(http.MethodGet, "/assets/index-abc1.js")
	if w.Code != 200 || w.Body.String() != "console.log(1)" || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") ||
		!strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Errorf("asset: %d %q %v", w.Code, w.Body.String(), w.Header())
	}
	if w := get(http.MethodGet, "/favicon.svg"); w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("favicon: %d %v", w.Code, w.Header())
	}
	if w := get(http.MethodGet, "/assets/missing.js"); w.Code != 404 {
		t.Errorf("missing asset: %d, want 404", w.Code)
	}
	if w := get(http.MethodPost, "/syncgate.v1.Other/Call"); w.Code != 404 || strings.Contains(w.Body.String(), "<title>") {
		t.Errorf("POST to an unknown path: %d %q, want 404 without the app", w.Code, w.Body.String())
	}
	w = get(http.MethodGet, "/")
	for k, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
	} {
		if !strings.Contains(w.Header().Get(k), want) {
			t.Errorf("%s = %q, want %q", k, w.Header().Get(k), want)
		}
	}
	if !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP lacks frame-ancestors 'none': %q", w.Header().Get("Content-Security-Policy"))
	}
}

// The embedded build is the real app: an index.html that loads hashed assets that are embedded too.
func TestEmbeddedDistIsABuiltApp(t *testing.T) {
	h := Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	body := w.Body.String()
	i := strings.Index(body, `src="/assets/`)
	if w.Code != 200 || i < 0 {
		t.Fatalf("index: %d %q", w.Code, body)
	}
	src := body[i+len(`src="`):]
	src = src[:strings.IndexByte(src, '"')]
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, src, nil))
	if w.Code != 200 || w.Body.Len() == 0 {
		t.Fatalf("%s: %d", src, w.Code)
	}
}
