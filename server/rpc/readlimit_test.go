package rpc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
)

// heldService's GetRun announces itself and holds until released (or its caller gives up);
// SyncCustomers answers at once.
type heldService struct {
	syncgatev1connect.UnimplementedSyncServiceHandler
	entered chan string
	release chan struct{}
}

func (s *heldService) GetRun(ctx context.Context, req *syncgatev1.GetRunRequest) (*syncgatev1.GetRunResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.entered <- req.GetRunId()
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &syncgatev1.GetRunResponse{Run: &syncgatev1.Run{Id: req.GetRunId()}}, nil
}

func (s *heldService) SyncCustomers(context.Context, *syncgatev1.SyncCustomersRequest) (*syncgatev1.SyncCustomersResponse, error) {
	return &syncgatev1.SyncCustomersResponse{Run: &syncgatev1.Run{Id: "started"}}, nil
}

// With one read slot, a second read waits until the first has answered, a caller that gives up while
// waiting is answered with its deadline at once, and other calls are not held.
func TestReadsBeyondTheLimitWaitTheirTurn(t *testing.T) {
	svc := &heldService{entered: make(chan string, 4), release: make(chan struct{})}
	queued := make(chan struct{}, 4)
	path, h := syncgatev1connect.NewSyncServiceHandler(svc)
	mux := http.NewServeMux()
	mux.Handle(path, newReadLimiter(1, func() { queued <- struct{}{} }, h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := syncgatev1connect.NewSyncServiceClient(srv.Client(), srv.URL)
	ctx := context.Background()

	get := func(ctx context.Context, id string) chan error {
		done := make(chan error, 1)
		go func() {
			_, err := client.GetRun(ctx, &syncgatev1.GetRunRequest{RunId: id})
			done <- err
		}()
		return done
	}
	first := get(ctx, "first")
	if id := <-svc.entered; id != "first" {
		t.Fatalf("entered %q", id)
	}
	second := get(ctx, "second")
	<-queued // second waits for the slot
	select {
	case id := <-svc.entered:
		t.Fatalf("%q entered the handler while the only slot was taken", id)
	default:
	}

	// A caller that gives up while waiting gets its deadline at once, not after the reads before it.
	gctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	gaveUp := get(gctx, "gave-up")
	<-queued
	if err := <-gaveUp; connect.CodeOf(err) != connect.CodeDeadlineExceeded && connect.CodeOf(err) != connect.CodeCanceled {
		t.Errorf("waiting caller that gave up: %v, want DeadlineExceeded or Canceled", err)
	}

	// A call that is not a read goes through while the slot is held.
	if res, err := client.SyncCustomers(ctx, &syncgatev1.SyncCustomersRequest{}); err != nil || res.GetRun().GetId() != "started" {
		t.Errorf("SyncCustomers while reads are held: %v, %v", res, err)
	}

	svc.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if id := <-svc.entered; id != "second" {
		t.Fatalf("after the first answered, %q entered; want second", id)
	}
	svc.release <- struct{}{}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
}
