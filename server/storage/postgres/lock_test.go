package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/server/storage/pgtest"
	"github.com/syncgate/syncgate/server/storage/postgres"
)

// A flow's run lock is held by one gateway at a time across stores on one database, per flow; unlock
// frees it; and when the holder's session ends, the lock is free and lost is closed.
func TestLockFlow(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	open := func() *postgres.Store {
		st, err := postgres.Open(ctx, dsn, postgres.WithLockCheckInterval(20*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	a, b := open(), open() // two gateways
	unlockA, lostA, ok, err := a.LockFlow(ctx, "customers")
	if err != nil || !ok {
		t.Fatalf("first lock = %v, %v", ok, err)
	}
	if _, _, ok, err := b.LockFlow(ctx, "customers"); err != nil || ok {
		t.Fatalf("second gateway took a held lock: %v, %v", ok, err)
	}
	unlockB, _, ok, err := b.LockFlow(ctx, "agents")
	if err != nil || !ok {
		t.Fatalf("another flow's lock = %v, %v", ok, err)
	}
	unlockB()
	unlockA()
	select {
	case <-lostA:
		t.Fatal("lost closed by unlock")
	default:
	}
	unlockA() // a second unlock is harmless
	unlockB2, lostB, ok, err := b.LockFlow(ctx, "customers")
	if err != nil || !ok {
		t.Fatalf("lock after unlock = %v, %v", ok, err)
	}
	defer unlockB2()

	// The holder's session is terminated (as when its connection breaks): lost is closed and the lock
	// is free for the other gateway.
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed bool
	if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the lock holder: %v, %v", killed, err)
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case <-lostB:
	case <-wait.Done():
		t.Fatal("lost not closed after the holder's session ended")
	}
	unlockA2, _, ok, err := a.LockFlow(ctx, "customers")
	if err != nil || !ok {
		t.Fatalf("lock after the holder's session ended = %v, %v", ok, err)
	}
	unlockA2()
}
