package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// CancelRun stops a run at the next page boundary: the page being delivered is finished and
// committed, nothing after it is read, and the run ends cancelled with its checkpoint at that page.
func TestCancelStopsAtThePageBoundary(t *testing.T) {
	b := newTestBundle(t, 30, 10, 0)
	writing, proceed := make(chan struct{}), make(chan struct{})
	b.tgt.onWrite = func(call int) {
		if call == 1 {
			writing <- struct{}{}
			<-proceed
		}
	}
	r, err := b.eng.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	<-writing // the first page is being delivered
	got, err := b.eng.Cancel(b.ctx, r.ID)
	if err != nil || got.Status != StatusRunning {
		t.Fatalf("cancel: %+v, %v", got, err)
	}
	close(proceed)
	r, err = b.eng.Wait(b.ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusCancelled || r.Counts.Read != 10 || r.Counts.Added != 10 || b.tgt.writes != 10 {
		t.Fatalf("cancelled run %+v after %d writes: want the first page of 10 delivered and nothing more", r, b.tgt.writes)
	}
	stored, err := b.st.GetRun(b.ctx, r.ID)
	if err != nil || stored.Status != string(StatusCancelled) || stored.Counts.Added != 10 {
		t.Fatalf("stored run %+v, %v", stored, err)
	}
	cp, ok, err := b.st.Checkpoint(b.ctx, FlowAgents)
	if err != nil || !ok || !sameCursor(cp, b.src.sorted()[9].Cursor) {
		t.Fatalf("checkpoint %+v (%v, %v), want the first page's last record", cp, ok, err)
	}
	// The mappings of the delivered page are committed: the next run delivers the other 20 only.
	b.tgt.onWrite = nil
	if r := b.sync(t, Options{}); r.Status != StatusSucceeded || r.Counts.Added != 20 || b.tgt.writes != 30 {
		t.Fatalf("next run %+v, %d writes", r, b.tgt.writes)
	}
	if _, err := b.eng.Cancel(b.ctx, r.ID); Classify(err) != KindRunEnded {
		t.Fatalf("cancel of an ended run: %v", err)
	}
	if _, err := b.eng.Cancel(b.ctx, "no-such-run"); Classify(err) != KindNotFound {
		t.Fatalf("cancel of an unknown run: %v", err)
	}
}

// failFirst makes the keys fail permanently in the bundle's target, and returns them.
func (b *tbundle) failKeys(keys ...string) {
	b.tgt.mu.Lock()
	defer b.tgt.mu.Unlock()
	clear(b.tgt.permanent)
	for _, k := range keys {
		b.tgt.permanent[k] = true
	}
}

func (b *tbundle) letters(t *testing.T) []string {
	t.Helper()
	p, err := b.eng.ListDeadLetters(b.ctx, FlowAgents, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, d := range p.Letters {
		keys = append(keys, d.SourceKey)
	}
	if int(p.Total) != len(keys) {
		t.Fatalf("ListDeadLetters total %d for %d letters", p.Total, len(keys))
	}
	return keys
}

// A dead-letter retry is a run of its own that delivers the selected letters (or all) and reads
// nothing else; discarding keeps an audit row with the reason; a record's story shows it all.
func TestDeadLettersAreListedRetriedDiscardedAndTold(t *testing.T) {
	b := newTestBundle(t, 12, 5, 0)
	b.failKeys("A0002", "A0005", "A0007", "A0011")
	if r := b.sync(t, Options{}); r.Status != StatusPartial || r.Counts.Failed != 4 {
		t.Fatalf("first run %+v", r)
	}
	if got := b.letters(t); strings.Join(got, ",") != "A0002,A0005,A0007,A0011" {
		t.Fatalf("dead letters %v", got)
	}
	// Paging: two letters a page, then the rest, then the end.
	p1, err := b.eng.ListDeadLetters(b.ctx, FlowAgents, "", 2)
	if err != nil || len(p1.Letters) != 2 || p1.NextPageToken == "" || p1.Total != 4 || p1.Letters[0].Attempts != 1 || p1.Letters[0].LastError == "" {
		t.Fatalf("page 1: %+v, %v", p1, err)
	}
	p2, err := b.eng.ListDeadLetters(b.ctx, FlowAgents, p1.NextPageToken, 2)
	if err != nil || len(p2.Letters) != 2 || p2.Letters[0].SourceKey != "A0007" || p2.NextPageToken != "" {
		t.Fatalf("page 2: %+v, %v", p2, err)
	}
	if _, err := b.eng.ListDeadLetters(b.ctx, FlowAgents, "garbage!", 2); Classify(err) != KindInvalidInput {
		t.Fatalf("bad page token: %v", err)
	}

	// The vendor is fixed for all but A0011; a new agent appears, which a retry must not read.
	b.failKeys("A0011")
	b.advance(time.Minute)
	b.src.put(agentFields(99, b.clock().Add(-time.Second), "新代理商"))
	writes := b.tgt.writes
	r, err := b.eng.RetryDeadLetters(b.ctx, FlowAgents, []string{"A0005"}, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if r, err = b.eng.Wait(b.ctx, r.ID); err != nil || r.Status != StatusSucceeded || r.Counts.Added != 1 || r.Trigger != TriggerRetry || r.Actor != "ops" {
		t.Fatalf("retry of one letter: %+v, %v", r, err)
	}
	if got := b.letters(t); strings.Join(got, ",") != "A0002,A0007,A0011" || b.tgt.writes != writes+1 {
		t.Fatalf("after retrying A0005: letters %v, %d writes (want one)", got, b.tgt.writes-writes)
	}
	r, err = b.eng.RetryDeadLetters(b.ctx, FlowAgents, nil, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if r, err = b.eng.Wait(b.ctx, r.ID); err != nil || r.Status != StatusPartial || r.Counts.Added != 2 || r.Counts.Failed != 1 {
		t.Fatalf("retry of all letters: %+v, %v", r, err)
	}
	if got := b.letters(t); strings.Join(got, ",") != "A0011" {
		t.Fatalf("after retrying all: letters %v", got)
	}
	p, _ := b.eng.ListDeadLetters(b.ctx, FlowAgents, "", 10)
	if p.Letters[0].Attempts != 2 {
		t.Fatalf("A0011 failed twice, its letter says %d attempts", p.Letters[0].Attempts)
	}
	if _, ok := b.tgt.bodies["13"]; ok || b.tgt.writes != writes+3 {
		t.Fatalf("the retries wrote %d records: they read the new agent too", b.tgt.writes-writes)
	}
	cp, _, _ := b.st.Checkpoint(b.ctx, FlowAgents)
	if !sameCursor(cp, b.src.sorted()[11].Cursor) {
		t.Fatalf("a retry moved the checkpoint to %+v", cp)
	}

	// Discard: the letter goes, an audit row with the reason stays. (History is ordered by time; the
	// test's clock moves as a real one would.)
	b.advance(time.Second)
	d, discarded, err := b.eng.DiscardDeadLetters(b.ctx, FlowAgents, []string{"A0011", "A0003"}, "agent closed in Zhilong", "ops")
	if err != nil || strings.Join(discarded, ",") != "A0011" || d.Trigger != TriggerDiscard || d.Status != StatusSucceeded || d.Actor != "ops" {
		t.Fatalf("discard: %+v %v %v", d, discarded, err)
	}
	if got := b.letters(t); len(got) != 0 {
		t.Fatalf("letters after the discard: %v", got)
	}
	if _, _, err := b.eng.DiscardDeadLetters(b.ctx, FlowAgents, []string{"A0011"}, "", "ops"); Classify(err) != KindInvalidInput {
		t.Fatalf("discard without a reason: %v", err)
	}

	// A0011's story: no mapping, no letter, three rows newest first: discarded, failed, failed.
	s, err := b.eng.GetRecord(b.ctx, FlowAgents, "A0011", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if s.Mapping != nil || s.DeadLetter != nil || len(s.History) != 3 {
		t.Fatalf("A0011's story: %+v", s)
	}
	if h := s.History[0]; h.Outcome != "discarded" || !strings.Contains(h.Error, "agent closed in Zhilong") || h.RunID != d.ID {
		t.Fatalf("newest row %+v, want the discard with its reason", h)
	}
	if s.History[1].Outcome != "permanent" || s.History[2].Outcome != "permanent" || s.History[1].RunID == s.History[2].RunID {
		t.Fatalf("older rows %+v", s.History[1:])
	}
	// A0005's story pages: the retry's delivery, then the first failure.
	s1, err := b.eng.GetRecord(b.ctx, FlowAgents, "A0005", "", 1)
	if err != nil || s1.Mapping == nil || len(s1.History) != 1 || s1.History[0].Outcome != "ok" || s1.NextPageToken == "" {
		t.Fatalf("A0005 page 1: %+v, %v", s1, err)
	}
	s2, err := b.eng.GetRecord(b.ctx, FlowAgents, "A0005", s1.NextPageToken, 1)
	if err != nil || len(s2.History) != 1 || s2.History[0].Outcome != "permanent" {
		t.Fatalf("A0005 page 2: %+v, %v", s2, err)
	}
	if _, err := b.eng.GetRecord(b.ctx, FlowAgents, "NOPE", "", 10); Classify(err) != KindNotFound {
		t.Fatalf("unknown record: %v", err)
	}
}

// Schedules fire on their own time, once per due time however many tickers there are, skip (and say
// so) while a run is in progress, and make up no missed ticks after downtime.
func TestSchedulesFireOncePerTickAndSkipWhileRunning(t *testing.T) {
	b := newTestBundle(t, 5, 10, 0)
	if err := b.eng.ConfigureSchedules(b.ctx, map[string]string{FlowAgents: "every 1m"}); err != nil {
		t.Fatal(err)
	}
	list, err := b.eng.ListSchedules(b.ctx)
	if err != nil || len(list) != 1 || list[0].Every != time.Minute || !list[0].NextRunAt.Equal(b.clock().Add(time.Minute)) {
		t.Fatalf("schedules %+v, %v", list, err)
	}
	// Not due yet: nothing fires.
	if err := b.eng.FireDueSchedules(b.ctx); err != nil {
		t.Fatal(err)
	}
	if runs, _, _ := b.eng.ListRuns(b.ctx, ListFilter{}); len(runs) != 0 {
		t.Fatalf("%d runs before the schedule was due", len(runs))
	}
	// Ten minutes of downtime: one run, and the next time is a minute from now, not a backlog.
	b.advance(10 * time.Minute)
	// Two gateways tick at once over the same store: the tick fires once.
	other, err := New(Config{Now: b.clock}, b.st, &Flow{Name: FlowAgents, Source: b.src, Target: b.tgt, Spec: b.spec})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Shutdown(b.ctx)
	var wg sync.WaitGroup
	for _, e := range []*Engine{b.eng, other} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = e.FireDueSchedules(b.ctx) }()
	}
	wg.Wait()
	runs := b.waitRuns(t, 1, other)
	if runs[0].Trigger != TriggerSchedule || runs[0].Actor != "schedule" {
		t.Fatalf("scheduled run %+v", runs[0])
	}
	list, _ = b.eng.ListSchedules(b.ctx)
	if s := list[0]; !s.NextRunAt.Equal(b.clock().Add(time.Minute)) || s.LastRunID != runs[0].ID || s.LastResult != "started" {
		t.Fatalf("after firing: %+v", s)
	}

	// A run in progress when the schedule is due: the firing is skipped and says so.
	writing, proceed := make(chan struct{}), make(chan struct{})
	b.tgt.onWrite = func(int) { writing <- struct{}{}; <-proceed }
	b.src.put(agentFields(50, b.clock(), "改名"))
	manual, err := b.eng.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	<-writing
	b.advance(2 * time.Minute)
	if err := b.eng.FireDueSchedules(b.ctx); err != nil {
		t.Fatal(err)
	}
	list, _ = b.eng.ListSchedules(b.ctx)
	if s := list[0]; s.LastResult != "skipped: run "+manual.ID+" is in progress" || !s.NextRunAt.Equal(b.clock().Add(time.Minute)) {
		t.Fatalf("overlapping firing: %+v", s)
	}
	close(proceed)
	if _, err := b.eng.Wait(b.ctx, manual.ID); err != nil {
		t.Fatal(err)
	}
	b.tgt.onWrite = nil
	if runs, _, _ := b.eng.ListRuns(b.ctx, ListFilter{}); len(runs) != 2 {
		t.Fatalf("%d runs, want the scheduled one and the manual one", len(runs))
	}
}

// waitRuns checks that the store lists n runs, waits for each to end on whichever engine (the
// bundle's or others over the same store) runs it, and returns them as stored, newest first.
func (b *tbundle) waitRuns(t *testing.T, n int, others ...*Engine) []Run {
	t.Helper()
	runs, _, err := b.eng.ListRuns(b.ctx, ListFilter{})
	if err != nil || len(runs) != n {
		t.Fatalf("%d runs (%v), want %d", len(runs), err, n)
	}
	for i, r := range runs {
		for _, e := range append([]*Engine{b.eng}, others...) {
			if e.Running(r.ID) {
				if _, err := e.Wait(b.ctx, r.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		if runs[i], err = b.eng.GetRun(b.ctx, r.ID); err != nil || !runs[i].Done() {
			t.Fatalf("run %+v has not ended (%v)", runs[i], err)
		}
	}
	return runs
}

// The configuration's schedule is applied when it changes, and an API change survives a restart with
// the same configuration.
func TestConfiguredSchedulesAndAPIChanges(t *testing.T) {
	b := newTestBundle(t, 1, 10, 0)
	if err := b.eng.ConfigureSchedules(b.ctx, map[string]string{FlowAgents: "every 1m jitter 10s"}); err != nil {
		t.Fatal(err)
	}
	paused := true
	s, err := b.eng.UpdateSchedule(b.ctx, FlowAgents, ScheduleUpdate{Every: 5 * time.Minute, Paused: &paused})
	if err != nil || s.Every != 5*time.Minute || s.Jitter != 0 || !s.Paused || !s.NextRunAt.IsZero() {
		t.Fatalf("update: %+v, %v", s, err)
	}
	b.advance(time.Hour)
	if err := b.eng.FireDueSchedules(b.ctx); err != nil {
		t.Fatal(err)
	}
	if runs, _, _ := b.eng.ListRuns(b.ctx, ListFilter{}); len(runs) != 0 {
		t.Fatal("a paused schedule fired")
	}
	// Restart with the same configuration: the API's change stays.
	b.rebuild(t)
	if err := b.eng.ConfigureSchedules(b.ctx, map[string]string{FlowAgents: "every 1m jitter 10s"}); err != nil {
		t.Fatal(err)
	}
	list, _ := b.eng.ListSchedules(b.ctx)
	if list[0].Every != 5*time.Minute || !list[0].Paused {
		t.Fatalf("after a restart with the same configuration: %+v", list[0])
	}
	// Resume: due a full interval from now.
	resume := false
	if s, err = b.eng.UpdateSchedule(b.ctx, FlowAgents, ScheduleUpdate{Paused: &resume}); err != nil || !s.NextRunAt.Equal(b.clock().Add(5*time.Minute)) {
		t.Fatalf("resume: %+v, %v", s, err)
	}
	// A changed configuration is applied.
	if err := b.eng.ConfigureSchedules(b.ctx, map[string]string{FlowAgents: "cron */10 * * * *"}); err != nil {
		t.Fatal(err)
	}
	list, _ = b.eng.ListSchedules(b.ctx)
	if list[0].Cron != "*/10 * * * *" || list[0].Every != 0 || list[0].NextRunAt.Minute()%10 != 0 || !list[0].NextRunAt.After(b.clock()) {
		t.Fatalf("after a configuration change: %+v", list[0])
	}
	for _, bad := range []string{"every 0.5s", "every 1m jitter 2m", "cron 61 * * * *", "hourly", "every"} {
		if err := b.eng.ConfigureSchedules(b.ctx, map[string]string{FlowAgents: bad}); err == nil {
			t.Errorf("schedule %q accepted", bad)
		}
	}
	if _, err := b.eng.UpdateSchedule(b.ctx, FlowAgents, ScheduleUpdate{Every: time.Minute, Jitter: time.Hour}); Classify(err) != KindInvalidInput {
		t.Fatalf("jitter above the interval: %v", err)
	}
}

// slowTarget delivers one record each time the test lets it, reporting each delivery as it ends.
type slowTarget struct {
	fakeTarget
	step chan struct{}
}

func (t *slowTarget) Write(ctx context.Context, items []Planned) []Delivery {
	out := make([]Delivery, len(items))
	for i, p := range items {
		<-t.step
		body, _, _ := t.Prepare(p)
		out[i] = Delivery{Action: p.Action, TargetKey: fmt.Sprint("T", p.Record.Key), Body: body}
		ReportDelivery(ctx, out[i])
	}
	return out
}

// A watcher sees a run's counts move while one page is delivered, not only when it commits.
func TestWatchSeesProgressWithinAPage(t *testing.T) {
	b := newTestBundle(t, 20, 100, 0)
	tgt := &slowTarget{step: make(chan struct{})}
	b.rebuild(t, withTarget(tgt), withConfig(func(c *Config) { c.ProgressInterval = 5 * time.Millisecond }))
	r, err := b.eng.Start(b.ctx, FlowAgents, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	ch, err := b.eng.Watch(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 5; want++ {
		tgt.step <- struct{}{}
		for s := range ch {
			if s.Counts.Added > want {
				t.Fatalf("snapshot with %d added after %d deliveries", s.Counts.Added, want)
			}
			if s.Counts.Added == want {
				if s.Counts.Read != 20 || s.Done() {
					t.Fatalf("mid-page snapshot %+v", s)
				}
				break
			}
		}
	}
	for range 15 {
		tgt.step <- struct{}{}
	}
	final, err := b.eng.Wait(b.ctx, r.ID)
	if err != nil || final.Status != StatusSucceeded || final.Counts.Added != 20 {
		t.Fatalf("final %+v, %v", final, err)
	}
}
