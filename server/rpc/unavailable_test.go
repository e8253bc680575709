package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
	"github.com/syncgate/syncgate/server/engine"
	"github.com/syncgate/syncgate/server/storage"
	"github.com/syncgate/syncgate/server/storage/sqlite"
)

// driverDown is the driver's text for a server that refuses connections: it names the server's
// host, user and database.
const driverDown = "failed to connect to `user=syncgate database=syncgate`: 10.1.2.3:5432 (db.internal): dial error: connect: connection refused"

// unreachableStore is a store whose database cannot be reached (as the PostgreSQL store's errors
// say it: they match storage.ErrUnavailable and wrap the driver's error) for its run reads.
type unreachableStore struct{ storage.Store }

func (unreachableStore) down(what string) error {
	return fmt.Errorf("%s: %w", what, errors.Join(storage.ErrUnavailable, errors.New(driverDown)))
}

func (s unreachableStore) GetRun(context.Context, string) (storage.Run, error) {
	return storage.Run{}, s.down("read run")
}

func (s unreachableStore) ListRuns(context.Context, storage.RunFilter) ([]storage.Run, string, error) {
	return nil, "", s.down("list runs")
}

// An RPC whose store cannot reach its database answers Unavailable with "the database cannot be
// reached (ref …)", nothing of the driver's error in it (host, user, database), which is logged in
// full under that reference. The handler, the engine and the transport are the real ones.
func TestAnUnreachableDatabaseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "syncgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := engine.New(engine.Config{}, unreachableStore{st})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	url := serveHandler(t, NewMux(NewHandler(e, slog.New(slog.NewTextHandler(logs, nil))), MuxOptions{Auth: NewKeyAuth([]string{testKey})}))
	for _, protocol := range []struct {
		name string
		opts []connect.ClientOption
	}{{"connect", nil}, {"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}}} {
		client := syncgatev1connect.NewSyncServiceClient(http.DefaultClient, url, protocol.opts...)
		for name, call := range map[string]func() error{
			"GetRun": func() error {
				_, err := client.GetRun(withAuth(ctx, "Bearer "+testKey), &syncgatev1.GetRunRequest{RunId: "r1"})
				return err
			},
			"ListRuns": func() error {
				_, err := client.ListRuns(withAuth(ctx, "Bearer "+testKey), &syncgatev1.ListRunsRequest{})
				return err
			},
		} {
			t.Run(protocol.name+"/"+name, func(t *testing.T) {
				err := call()
				if connect.CodeOf(err) != connect.CodeUnavailable {
					t.Fatalf("%s = %v (code %v), want Unavailable", name, err, connect.CodeOf(err))
				}
				msg := connectMessage(err)
				m := regexp.MustCompile(`^the database cannot be reached \(ref ([0-9a-f]{12})\)$`).FindStringSubmatch(msg)
				if m == nil {
					t.Fatalf("message %q, want \"the database cannot be reached (ref …)\" and nothing else", msg)
				}
				var line string
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, "ref="+m[1]) {
						line = l
					}
				}
				if !strings.Contains(line, "10.1.2.3:5432 (db.internal)") || !strings.Contains(line, "connection refused") {
					t.Fatalf("the store's error is not logged in full under ref %s:\n%s", m[1], logs.String())
				}
			})
		}
	}
}

func TestToConnectUnavailableDatabase(t *testing.T) {
	logs := &syncBuffer{}
	down := fmt.Errorf("start run: create run: %w", errors.Join(storage.ErrUnavailable, errors.New(driverDown)))
	got := toConnect(context.Background(), slog.New(slog.NewTextHandler(logs, nil)), down)
	if connect.CodeOf(got) != connect.CodeUnavailable {
		t.Fatalf("code = %v, want Unavailable", connect.CodeOf(got))
	}
	msg := connectMessage(got)
	if !strings.HasPrefix(msg, "the database cannot be reached (ref ") {
		t.Fatalf("message %q", msg)
	}
	for _, leak := range []string{"10.1.2.3", "db.internal", "syncgate", "refused", "user="} {
		if strings.Contains(msg, leak) {
			t.Fatalf("message %q shows %q", msg, leak)
		}
	}
	// A full database still answers ResourceExhausted, also when it cannot be reached for other calls.
	both := errors.Join(fmt.Errorf("commit page: %w", storage.ErrFull), down)
	if code := connect.CodeOf(toConnect(context.Background(), slog.New(slog.DiscardHandler), both)); code != connect.CodeResourceExhausted {
		t.Fatalf("full and unreachable = %v, want ResourceExhausted", code)
	}
	// An error explicitly internal stays internal.
	if code := connect.CodeOf(toConnect(context.Background(), slog.New(slog.DiscardHandler), fmt.Errorf("%w: %w", engine.ErrInternal, down))); code != connect.CodeInternal {
		t.Fatalf("internal around unreachable = %v, want Internal", code)
	}
}
