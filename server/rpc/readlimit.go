package rpc

import (
	"net/http"
	"runtime"

	"github.com/syncgate/syncgate/api/gen/syncgate/v1/syncgatev1connect"
)

// readProcedures are the SyncService calls that only read the store and answer from it: the calls a
// console or an operator's script repeats. Preview (it calls the vendors and has its own bound) and
// WatchRun (a stream that mostly waits) are not among them, nor any call that starts or changes work.
var readProcedures = map[string]bool{
	syncgatev1connect.SyncServiceGetRunProcedure:          true,
	syncgatev1connect.SyncServiceListRunsProcedure:        true,
	syncgatev1connect.SyncServiceGetRecordProcedure:       true,
	syncgatev1connect.SyncServiceListDeadLettersProcedure: true,
	syncgatev1connect.SyncServiceListSchedulesProcedure:   true,
	syncgatev1connect.SyncServiceGetOverviewProcedure:     true,
}

// defaultReadConcurrency is how many read calls are served at once when MuxOptions says nothing: four
// per CPU the Go scheduler uses (8 on 2 cores, the SQLite store's pool size). Measured with bench
// -readers 200 on 2 cores: one per CPU protected a sync best from readers in a closed loop (its
// records/s at 55% of the run without readers, against 15% at four per CPU and 4% unlimited), but
// under readers paced at 1 s, whose calls take tens of milliseconds each on a busy machine, two slots
// were too few for 190 calls/s and queued them (p99 1.7 s); four per CPU served them with p99 under
// 190 ms and the sync at 94%.
func defaultReadConcurrency() int { return 4 * runtime.GOMAXPROCS(0) }

// limitReads serves at most n of the read procedures at once, each from its request to the end of
// its answer (encoding and compression included); the others wait their turn in the order the Go
// runtime wakes them. Without it, every concurrent reader is a runnable goroutine that the scheduler
// shares the CPUs with fairly, so 200 readers in a closed loop left a running sync a few percent of
// the gateway's CPU (its records/s fell to 4% on 2 cores, measured); with it, reads beyond n queue
// instead of competing, and a sync's goroutines keep a larger share. A caller that hangs up while it
// waits (its request's context ends) is passed on at once, so that its call ends with that error.
// Other procedures are not limited.
func limitReads(n int, next http.Handler) http.Handler { return newReadLimiter(n, nil, next) }

// newReadLimiter is limitReads with queued, when not nil, called as a read starts waiting for a slot.
func newReadLimiter(n int, queued func(), next http.Handler) http.Handler {
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !readProcedures[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		default:
			if queued != nil {
				queued()
			}
			select {
			case slots <- struct{}{}:
				defer func() { <-slots }()
			case <-r.Context().Done():
			}
		}
		next.ServeHTTP(w, r)
	})
}
