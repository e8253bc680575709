package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	syncgatev1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
	"github.com/syncgate/syncgate/e2e"
	"github.com/syncgate/syncgate/mocks/mockctl"
)

// createDatabase creates an empty database on adminDSN's server and returns its URL and the function
// that drops it (WITH (FORCE): connections a killed gateway left do not keep it).
func createDatabase(ctx context.Context) (string, func(), error) {
	u, err := url.Parse(adminDSN)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, errors.New("-postgres is not a postgres:// URL") // the URL may hold a password
	}
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	rand.Read(b)
	name := "syncgate_bench_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminDSN)
		if err == nil {
			_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "drop database %s: %v\n", name, err)
		}
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// databaseSize is the size of the database at dsn (pg_database_size).
func databaseSize(ctx context.Context, dsn string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, fmt.Errorf("connect to the bench database: %w", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		return 0, fmt.Errorf("database size: %w", err)
	}
	return n, nil
}

// takeoverResult is what measureTakeover saw.
type takeoverResult struct {
	want, readAtKill int64
	moving, ended    time.Duration
	status           string
	added, updated   int64
	distributors     int
}

// measureTakeover starts two replicas on a fresh database (and an empty Greatonce), starts a
// SyncCustomers run, kills (kill -9) the replica executing it as soon as it has read a page, and
// times, on the other replica, the run moving again and its end. env is the gateway environment of
// the measurement before (its database and address are replaced).
func measureTakeover(ctx context.Context, gwBin string, gc, kd *mockctl.Client, env []string) (takeoverResult, error) {
	var to takeoverResult
	if err := gc.Reset(ctx); err != nil {
		return to, err
	}
	db, drop, err := createDatabase(ctx)
	if err != nil {
		return to, err
	}
	defer drop()
	var base []string
	for _, e := range env {
		if !strings.HasPrefix(e, "SYNCGATE_DEBUG_LISTEN=") {
			base = append(base, e)
		}
	}
	type replica struct {
		proc   *e2e.Process
		client syncgatev1.SyncServiceClient
	}
	var reps []replica
	for i := range 2 {
		addr, err := e2e.FreePort()
		if err != nil {
			return to, err
		}
		p, err := e2e.StartProcess(fmt.Sprintf("replica-%d", i), gwBin, nil, append(base, "SYNCGATE_DB="+db, "SYNCGATE_LISTEN="+addr,
			"SYNCGATE_TAKEOVER_AFTER="+takeoverAfter.String(), "SYNCGATE_LOG_LEVEL=info"))
		if err != nil {
			return to, err
		}
		defer p.Kill()
		if _, err := p.WaitFor(e2e.GatewayReady, time.Minute); err != nil {
			return to, err
		}
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return to, err
		}
		defer conn.Close()
		reps = append(reps, replica{p, syncgatev1.NewSyncServiceClient(conn)})
	}
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	resp, err := reps[0].client.SyncCustomers(actx, &syncgatev1.SyncCustomersRequest{})
	if err != nil {
		return to, err
	}
	id := resp.GetRun().GetId()
	get := func(c syncgatev1.SyncServiceClient) (*syncgatev1.Run, error) {
		r, err := c.GetRun(actx, &syncgatev1.GetRunRequest{RunId: id})
		return r.GetRun(), err
	}
	// Kill the replica executing the run once the run has read a page.
	survivor := -1
	for deadline := time.Now().Add(time.Minute); survivor < 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return to, errors.New("no replica executed the run within a minute")
		}
		r, err := get(reps[0].client)
		if err != nil {
			return to, err
		}
		if r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING {
			return to, fmt.Errorf("the run ended (%s) before it could be killed: use a larger -n", r.GetStatus())
		}
		if r.GetCounts().GetRead() == 0 {
			continue
		}
		for i, rp := range reps {
			if rp.proc.ExecutingRun(id) {
				rp.proc.Kill()
				survivor = 1 - i
				break
			}
		}
	}
	killedAt := time.Now()
	c := reps[survivor].client
	at, err := get(c)
	if err != nil {
		return to, err
	}
	to.readAtKill = at.GetCounts().GetRead()
	for deadline := time.Now().Add(takeoverAfter + 2*time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return to, errors.New("the run was not taken over in time")
		}
		r, err := get(c)
		if err != nil {
			return to, err
		}
		if to.moving == 0 && (r.GetCounts().GetRead() != at.GetCounts().GetRead() || r.GetCounts().GetAdded() != at.GetCounts().GetAdded() ||
			r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING) {
			to.moving = time.Since(killedAt)
		}
		if r.GetStatus() != syncgatev1.RunStatus_RUN_STATUS_RUNNING {
			to.ended = time.Since(killedAt)
			to.status, to.added, to.updated = r.GetStatus().String(), r.GetCounts().GetAdded(), r.GetCounts().GetUpdated()
			break
		}
	}
	cs, err := kd.KingdeeCustomers(ctx)
	if err != nil {
		return to, err
	}
	for _, c := range cs {
		if c.FDocumentStatus == "C" && c.FForbidStatus == "A" {
			to.want++
		}
	}
	ds, err := gc.GreatonceDistributors(ctx)
	if err != nil {
		return to, err
	}
	to.distributors = len(ds)
	fmt.Fprintf(os.Stderr, "takeover: killed at %d read; moving again after %s, ended after %s (%s)\n", to.readAtKill, to.moving, to.ended, to.status)
	return to, nil
}
