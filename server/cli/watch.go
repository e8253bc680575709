package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	v1 "github.com/syncgate/syncgate/api/gen/syncgate/v1"
)

// redraw is how often the progress bar is redrawn between snapshots (its spinner and elapsed time).
const redraw = 250 * time.Millisecond

// lineEvery is the least time between two progress lines when stdout is not a terminal.
const lineEvery = time.Second

// follow watches a run it (or the caller) started until the run ends, showing its progress: protojson
// lines with --json, a progress bar on a terminal, else a line per snapshot at most every second. The
// result follows the run's final status.
func (s *session) follow(run *v1.Run) error {
	id := run.GetId()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	// interrupted ends a watch its caller cancelled (Ctrl-C): the run itself goes on.
	interrupted := func() error {
		fmt.Fprintf(s.stderr, "the run goes on on the gateway; stop it with: syncgate cancel %s\n", id)
		return s.ctx.Err()
	}
	stream, err := s.client.WatchRun(ctx, &v1.WatchRunRequest{RunId: id})
	if err != nil {
		if s.ctx.Err() != nil {
			return interrupted()
		}
		return fmt.Errorf("watch run %s: %w", id, err)
	}
	// The receiving goroutine owns the stream; it ends when the stream does or ctx is cancelled.
	snaps := make(chan *v1.WatchRunResponse)
	done := make(chan error, 1)
	go func() {
		defer close(snaps)
		defer func() { _ = stream.Close() }()
		for stream.Receive() {
			select {
			case snaps <- stream.Msg():
			case <-ctx.Done():
				done <- ctx.Err()
				return
			}
		}
		done <- stream.Err()
	}()
	defer func() {
		cancel()
		for range snaps {
			// drain, so that the receiving goroutine ends
		}
	}()

	var show progress
	switch {
	case s.json:
		show = &jsonProgress{s: s}
	case s.isTerminal(s.stdout):
		show = newBarProgress(s, run)
	default:
		show = &lineProgress{s: s}
	}
	tick := time.NewTicker(redraw)
	defer tick.Stop()
	var last *v1.Run
	for {
		select {
		case snap, ok := <-snaps:
			if !ok {
				err := <-done
				show.abort()
				if s.ctx.Err() != nil {
					return interrupted()
				}
				if err != nil {
					return fmt.Errorf("watch run %s: %w", id, err)
				}
				if last != nil {
					return fmt.Errorf("watch run %s (last seen %s): %w", id, statusName(last.GetStatus()), errLost)
				}
				return fmt.Errorf("watch run %s: %w", id, errLost)
			}
			last = snap.GetRun()
			final := last.GetStatus() != v1.RunStatus_RUN_STATUS_RUNNING && last.GetStatus() != v1.RunStatus_RUN_STATUS_UNSPECIFIED
			if err := show.snapshot(snap, final); err != nil {
				return err
			}
			if final {
				return runExit(last)
			}
		case <-tick.C:
			show.tick()
		}
	}
}

// progress shows a watched run.
type progress interface {
	// snapshot shows one snapshot; final is true for the last one (the run has ended).
	snapshot(snap *v1.WatchRunResponse, final bool) error
	// tick is called between snapshots (to redraw).
	tick()
	// abort ends the display when the watch ends without a final snapshot.
	abort()
}

// jsonProgress prints every snapshot as one protojson line.
type jsonProgress struct{ s *session }

func (p *jsonProgress) snapshot(snap *v1.WatchRunResponse, _ bool) error {
	return printJSON(p.s.stdout, snap)
}
func (p *jsonProgress) tick()  {}
func (p *jsonProgress) abort() {}

// lineProgress prints a line per snapshot, at most one per lineEvery, and always the final one, then
// the run's summary.
type lineProgress struct {
	s       *session
	printed time.Time
}

func (p *lineProgress) snapshot(snap *v1.WatchRunResponse, final bool) error {
	r := snap.GetRun()
	now := p.s.now()
	if !final && !p.printed.IsZero() && now.Sub(p.printed) < lineEvery {
		return nil
	}
	p.printed = now
	fmt.Fprintln(p.s.stdout, p.s.progressLine(r, now))
	if final {
		fmt.Fprintln(p.s.stdout)
		p.s.printRun(r)
	}
	return nil
}
func (p *lineProgress) tick()  {}
func (p *lineProgress) abort() {}

// progressLine is one snapshot as a line, at now: time, run, status, counts, rate and elapsed time.
func (s *session) progressLine(r *v1.Run, now time.Time) string {
	c := r.GetCounts()
	el := s.elapsedAt(r, now)
	return fmt.Sprintf("%s  %s %s  %s  read %d (%s)  added %d  updated %d  skipped %d  failed %d  elapsed %s",
		now.In(s.loc()).Format("15:04:05"), flowName(r.GetFlow()), r.GetId(), statusName(r.GetStatus()),
		c.GetRead(), rate(c.GetRead(), el), c.GetAdded(), c.GetUpdated(), c.GetSkipped(), c.GetFailed(), fmtDuration(el))
}

// rate is records per second over d.
func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- records/s"
	}
	return fmt.Sprintf("%.0f records/s", float64(n)/d.Seconds())
}

// barProgress draws an indeterminate progress bar (the total is not known ahead): spinner, the
// counts in the description, records read, rate and elapsed time.
type barProgress struct {
	s   *session
	bar *progressbar.ProgressBar
}

func newBarProgress(s *session, run *v1.Run) *barProgress {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(s.stdout),
		progressbar.OptionSetDescription(barText(run)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowTotalBytes(false),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSpinnerType(14),
		// no redraw goroutine of the bar's own (it would outlive an aborted watch): follow ticks it
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &barProgress{s: s, bar: bar}
}

// barText is the bar's description: the run and its outcome counts.
func barText(r *v1.Run) string {
	c := r.GetCounts()
	return fmt.Sprintf("%s %s: added %d, updated %d, skipped %d, failed %d",
		flowName(r.GetFlow()), r.GetId(), c.GetAdded(), c.GetUpdated(), c.GetSkipped(), c.GetFailed())
}

func (p *barProgress) snapshot(snap *v1.WatchRunResponse, final bool) error {
	r := snap.GetRun()
	p.bar.Describe(barText(r))
	_ = p.bar.Set64(r.GetCounts().GetRead())
	if final {
		_ = p.bar.Finish()
		fmt.Fprint(p.s.stdout, "\n\n")
		p.s.printRun(r)
	}
	return nil
}

func (p *barProgress) tick() { _ = p.bar.Add64(0) }

func (p *barProgress) abort() {
	_ = p.bar.Exit()
	fmt.Fprintln(p.s.stdout)
}
