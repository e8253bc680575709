package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/syncgate/syncgate/server/storage"
)

var _ storage.FlowLocker = (*Store)(nil)

// defaultLockCheck is how often a held flow lock checks that its connection is alive.
const defaultLockCheck = 5 * time.Second

// WithLockCheckInterval sets how often a held flow lock (LockFlow) checks that its connection to the
// database is alive, which bounds how late lost is closed after the connection ends (default 5 s).
func WithLockCheckInterval(d time.Duration) Option {
	return func(o *options) { o.lockCheck = d }
}

// LockFlow takes the flow's run lock if no gateway holds it: a PostgreSQL session-level advisory lock
// (on a hash of the flow's name) on a connection of its own, outside the store's pool, so that the
// lock lives exactly as long as that connection. unlock releases it and closes the connection; if
// the connection ends first (the server restarted, the network failed, the session was terminated),
// the server has released the lock and lost is closed, noticed within the lock check interval. The
// server releases the lock of a gateway that died when its session ends.
func (s *Store) LockFlow(ctx context.Context, flow string) (unlock func(), lost <-chan struct{}, ok bool, err error) {
	// The lock's connection is not the pool's (db): its errors are classified here.
	conn, err := pgx.ConnectConfig(ctx, s.connConfig.Copy())
	if err != nil {
		return nil, nil, false, fmt.Errorf("lock flow %s: %w", flow, classify(ctx, err))
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended('syncgate/flow/' || $1, 0))`, flow).Scan(&got); err != nil {
		conn.Close(context.Background())
		return nil, nil, false, fmt.Errorf("lock flow %s: %w", flow, classify(ctx, err))
	}
	if !got {
		conn.Close(context.Background())
		return nil, nil, false, nil
	}
	lostCh, stop, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() { // watch the connection until unlock
		defer close(done)
		tick := time.NewTicker(s.lockCheck)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				pctx, cancel := context.WithTimeout(context.Background(), s.lockCheck)
				err := conn.Ping(pctx)
				cancel()
				if err != nil {
					close(lostCh)
					return
				}
			}
		}
	}()
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			close(stop)
			<-done
			// Closing the session releases the lock; unlocking first releases it at once even if the
			// close is slow.
			uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn.Exec(uctx, `SELECT pg_advisory_unlock(hashtextextended('syncgate/flow/' || $1, 0))`, flow) // the close below releases it anyway
			conn.Close(uctx)
		})
	}
	return unlock, lostCh, true, nil
}
