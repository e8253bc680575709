package rpc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// errUnauthenticated is the only thing a caller with a missing or wrong key learns.
var errUnauthenticated = errors.New("missing or invalid API key: send Authorization: Bearer <key>")

// KeyAuth checks API keys sent as "Authorization: Bearer <key>".
//
// Keys are kept as SHA-256 digests and compared in constant time against every configured key, so
// neither the comparison time nor an early exit tells a caller how close a guess was.
type KeyAuth struct {
	digests [][sha256.Size]byte
}

// NewKeyAuth returns a KeyAuth accepting the given keys. With no keys, every request is allowed: the
// caller (the server's start-up) decides whether that is acceptable.
func NewKeyAuth(keys []string) *KeyAuth {
	a := &KeyAuth{}
	for _, k := range keys {
		if k = strings.TrimSpace(k); k != "" {
			a.digests = append(a.digests, sha256.Sum256([]byte(k)))
		}
	}
	return a
}

// Enabled reports whether any key is configured.
func (a *KeyAuth) Enabled() bool { return len(a.digests) > 0 }

// Check reports whether the Authorization header carries a configured key.
func (a *KeyAuth) Check(h http.Header) bool {
	if !a.Enabled() {
		return true
	}
	const prefix = "bearer "
	v := h.Get("Authorization")
	if len(v) <= len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(v[len(prefix):])))
	ok := 0
	for i := range a.digests {
		ok |= subtle.ConstantTimeCompare(got[:], a.digests[i][:])
	}
	return ok == 1
}

// Interceptor returns a Connect interceptor that refuses calls without a valid key with
// CodeUnauthenticated, before any other interceptor or handler code runs.
func (a *KeyAuth) Interceptor() connect.Interceptor { return authInterceptor{a} }

// Middleware guards a plain HTTP handler (such as /metrics) with the same keys.
func (a *KeyAuth) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.Check(r.Header) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="syncgate"`)
			http.Error(w, errUnauthenticated.Error(), http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type authInterceptor struct{ a *KeyAuth }

func (i authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !i.a.Check(req.Header()) {
			return nil, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
		}
		return next(ctx, req)
	}
}

func (i authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if !i.a.Check(conn.RequestHeader()) {
			return connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
		}
		return next(ctx, conn)
	}
}
