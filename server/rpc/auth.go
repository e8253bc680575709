package rpc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"regexp"
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
	names   []string
}

// keyName is the name part of a configured "NAME:KEY" entry.
var keyName = regexp.MustCompile(`^([A-Za-z0-9_.-]{1,64}):(.+)$`)

// NewKeyAuth returns a KeyAuth accepting the given keys. An entry "NAME:KEY" (NAME of letters,
// digits, '_', '.' or '-') is the key KEY named NAME; any other entry is a key named key-N, N its
// position from 1. The name, never the key, is what runs record as their actor. With no keys, every
// request is allowed: the caller (the server's start-up) decides whether that is acceptable.
func NewKeyAuth(keys []string) *KeyAuth {
	a := &KeyAuth{}
	for _, k := range keys {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		name := fmt.Sprintf("key-%d", len(a.digests)+1)
		if m := keyName.FindStringSubmatch(k); m != nil {
			name, k = m[1], m[2]
		}
		a.digests = append(a.digests, sha256.Sum256([]byte(k)))
		a.names = append(a.names, name)
	}
	return a
}

// Enabled reports whether any key is configured.
func (a *KeyAuth) Enabled() bool { return len(a.digests) > 0 }

// Check reports whether the Authorization header carries a configured key.
func (a *KeyAuth) Check(h http.Header) bool {
	_, ok := a.identify(h)
	return ok
}

// identify checks the Authorization header and returns the name of the key it carries ("" when no
// keys are configured).
func (a *KeyAuth) identify(h http.Header) (string, bool) {
	if !a.Enabled() {
		return "", true
	}
	const prefix = "bearer "
	v := h.Get("Authorization")
	if len(v) <= len(prefix) || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(v[len(prefix):])))
	match := -1
	for i := range a.digests {
		if subtle.ConstantTimeCompare(got[:], a.digests[i][:]) == 1 {
			match = i // no early exit: every key is compared
		}
	}
	if match < 0 {
		return "", false
	}
	return a.names[match], true
}

type keyNameKey struct{}

// KeyName is the name of the API key the call on ctx authenticated with ("" without keys).
func KeyName(ctx context.Context) string {
	n, _ := ctx.Value(keyNameKey{}).(string)
	return n
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
		name, ok := i.a.identify(req.Header())
		if !ok {
			return nil, connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
		}
		return next(context.WithValue(ctx, keyNameKey{}, name), req)
	}
}

func (i authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		name, ok := i.a.identify(conn.RequestHeader())
		if !ok {
			return connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
		}
		return next(context.WithValue(ctx, keyNameKey{}, name), conn)
	}
}
