package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/syncgate/syncgate/server/storage"
)

// SQLSTATEs classify marks (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	// diskFull is disk_full (class 53, insufficient resources).
	diskFull = "53100"
	// connectionException is class 08: connection_exception, connection_failure, …
	connectionException = "08"
	// adminShutdown, crashShutdown and cannotConnectNow (class 57, operator intervention): the server
	// is shutting down, restarting after a crash, or starting up.
	adminShutdown    = "57P01"
	crashShutdown    = "57P02"
	cannotConnectNow = "57P03"
	// tooManyConnections (class 53): the server has no connection slot free.
	tooManyConnections = "53300"
)

// classifiedError is an error of the database that matches a storage sentinel (storage.ErrFull,
// storage.ErrUnavailable) and still wraps the driver's error, for the log. Its text is the driver's.
type classifiedError struct {
	kind error
	err  error
}

func (e *classifiedError) Error() string   { return e.err.Error() }
func (e *classifiedError) Unwrap() []error { return []error{e.kind, e.err} }

// classify is the store's one classification of the driver's errors; every error that comes from
// the database goes through it (see db), with the context of the call it ends. It marks
//   - the server's disk_full answer: the error then matches storage.ErrFull;
//   - a database that cannot be reached: the error then matches storage.ErrUnavailable. That is a
//     failed connection attempt (*pgconn.ConnectError: refused, unreachable, the server not
//     accepting connections or not answering within the DSN's connect_timeout), a connection lost
//     before or during a call (pgx reports an error safe to retry, a network error, or an EOF from
//     the socket), and the server's answers of class 08 (connection exception), 57P01, 57P02, 57P03
//     (shutting down, restarting, starting up) and 53300 (no connection slot free).
//
// An error of the call's context (ctx was cancelled or its deadline passed: context.Canceled,
// context.DeadlineExceeded in the chain) is left as it is, as is every other answer of the server (a
// constraint violation, a syntax error, …), and an error already classified.
func classify(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, storage.ErrFull) || errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	if kind := classOf(ctx, err); kind != nil {
		return &classifiedError{kind: kind, err: err}
	}
	return err
}

// classOf is the sentinel err is to match, nil for none.
func classOf(ctx context.Context, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// The server answered: its code says what happened, whatever else the chain holds.
		switch {
		case pe.Code == diskFull:
			return storage.ErrFull
		case strings.HasPrefix(pe.Code, connectionException), pe.Code == adminShutdown,
			pe.Code == crashShutdown, pe.Code == cannotConnectNow, pe.Code == tooManyConnections:
			return storage.ErrUnavailable
		}
		return nil
	}
	var ce *pgconn.ConnectError
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// A call its context ended (pgx reports it as safe to retry, a connection attempt it cut short
		// as a ConnectError) says nothing of the server. A connection attempt that timed out while
		// the call's context lives timed out on the DSN's connect_timeout: the server did not answer.
		if ctx != nil && ctx.Err() == nil && errors.As(err, &ce) {
			return storage.ErrUnavailable
		}
		return nil
	}
	var ne net.Error
	switch {
	case errors.As(err, &ce), pgconn.SafeToRetry(err), errors.As(err, &ne),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return storage.ErrUnavailable
	}
	return nil
}

// db is the store's pool with every error it returns classified (classify), also those that come
// later, from a result's rows, a transaction's statements, its commit and its rollback. It offers
// only what the store uses, so that no query can bypass the classification. The errors classify
// sees are the driver's only, never those of the store's own decoding: a stored value that does not
// decode, which the decoder may report as io.ErrUnexpectedEOF, is no lost connection.
type db struct{ p *pgxpool.Pool }

func (d db) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r, err := d.p.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return rows{r, ctx}, nil
}

func (d db) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return row{d.p.QueryRow(ctx, sql, args...), ctx}
}

func (d db) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := d.p.Exec(ctx, sql, args...)
	return tag, classify(ctx, err)
}

// Begin begins a transaction (pgx.BeginFunc takes the db).
func (d db) Begin(ctx context.Context) (pgx.Tx, error) {
	t, err := d.p.Begin(ctx)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return tx{t}, nil
}

func (d db) Ping(ctx context.Context) error { return classify(ctx, d.p.Ping(ctx)) }

func (d db) Close() { d.p.Close() }

// tx is a transaction whose errors are classified.
type tx struct{ pgx.Tx }

func (t tx) Begin(ctx context.Context) (pgx.Tx, error) {
	n, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return tx{n}, nil
}

func (t tx) Commit(ctx context.Context) error   { return classify(ctx, t.Tx.Commit(ctx)) }
func (t tx) Rollback(ctx context.Context) error { return classify(ctx, t.Tx.Rollback(ctx)) }

func (t tx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	n, err := t.Tx.CopyFrom(ctx, table, columns, src)
	return n, classify(ctx, err)
}

func (t tx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return batchResults{t.Tx.SendBatch(ctx, b), ctx}
}

func (t tx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	sd, err := t.Tx.Prepare(ctx, name, sql)
	return sd, classify(ctx, err)
}

func (t tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.Tx.Exec(ctx, sql, args...)
	return tag, classify(ctx, err)
}

func (t tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r, err := t.Tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(ctx, err)
	}
	return rows{r, ctx}, nil
}

func (t tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return row{t.Tx.QueryRow(ctx, sql, args...), ctx}
}

// batchResults are a batch's results with their errors classified; ctx is the batch's.
type batchResults struct {
	b   pgx.BatchResults
	ctx context.Context
}

func (b batchResults) Exec() (pgconn.CommandTag, error) {
	tag, err := b.b.Exec()
	return tag, classify(b.ctx, err)
}

func (b batchResults) Query() (pgx.Rows, error) {
	r, err := b.b.Query()
	if err != nil {
		return nil, classify(b.ctx, err)
	}
	return rows{r, b.ctx}, nil
}

func (b batchResults) QueryRow() pgx.Row { return row{b.b.QueryRow(), b.ctx} }
func (b batchResults) Close() error      { return classify(b.ctx, b.b.Close()) }

func (b batchResults) Tx() pgx.Tx {
	if t := b.b.Tx(); t != nil {
		return tx{t}
	}
	return nil
}

// rows are a result's rows with their errors classified; ctx is the query's.
type rows struct {
	pgx.Rows
	ctx context.Context
}

func (r rows) Err() error { return classify(r.ctx, r.Rows.Err()) }

func (r rows) Scan(dest ...any) error { return classify(r.ctx, r.Rows.Scan(dest...)) }

func (r rows) Values() ([]any, error) {
	v, err := r.Rows.Values()
	return v, classify(r.ctx, err)
}

// row is QueryRow's result with its error classified; ctx is the query's.
type row struct {
	r   pgx.Row
	ctx context.Context
}

func (r row) Scan(dest ...any) error { return classify(r.ctx, r.r.Scan(dest...)) }
