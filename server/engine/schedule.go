package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/syncgate/syncgate/server/storage"
)

// Schedule is when a flow runs by itself: every Every (each run delayed by a random time up to
// Jitter), or at the times of a cron expression, or never (neither set). It is stored, so its next
// run time survives a restart; after downtime a due schedule fires once, and its next time is
// computed from then, so missed ticks are not made up.
type Schedule struct {
	Flow          string
	Every, Jitter time.Duration
	Cron          string
	Paused        bool
	// NextRunAt is when the schedule fires next (zero when paused or unscheduled).
	NextRunAt time.Time
	// What the last firing did: "started", or why no run was started.
	LastFiredAt time.Time
	LastRunID   string
	LastResult  string
}

// Scheduled reports whether the schedule has a plan (an interval or a cron expression).
func (s Schedule) Scheduled() bool { return s.Every > 0 || s.Cron != "" }

// String is the schedule's plan as ParseSchedule reads it: "every 30s", "every 5m jitter 10s",
// "cron */5 * * * *", or "off".
func (s Schedule) String() string {
	switch {
	case s.Every > 0 && s.Jitter > 0:
		return "every " + s.Every.String() + " jitter " + s.Jitter.String()
	case s.Every > 0:
		return "every " + s.Every.String()
	case s.Cron != "":
		return "cron " + s.Cron
	}
	return "off"
}

// ParseSchedule reads a schedule's plan as the configuration writes it: "every DURATION [jitter
// DURATION]" (at least 1s; the jitter below the interval), "cron EXPRESSION" (five fields, or a
// descriptor such as @hourly; in the gateway's time zone), or "off" or "" for none.
func ParseSchedule(text string) (Schedule, error) {
	f := strings.Fields(text)
	if len(f) == 0 || (len(f) == 1 && f[0] == "off") {
		return Schedule{}, nil
	}
	switch f[0] {
	case "every":
		var s Schedule
		if len(f) != 2 && !(len(f) == 4 && f[2] == "jitter") {
			return Schedule{}, fmt.Errorf("schedule %q: want \"every DURATION [jitter DURATION]\"", text)
		}
		var err error
		if s.Every, err = time.ParseDuration(f[1]); err != nil {
			return Schedule{}, fmt.Errorf("schedule %q: %w", text, err)
		}
		if len(f) == 4 {
			if s.Jitter, err = time.ParseDuration(f[3]); err != nil {
				return Schedule{}, fmt.Errorf("schedule %q: jitter: %w", text, err)
			}
		}
		return s, checkPlan(s)
	case "cron":
		s := Schedule{Cron: strings.Join(f[1:], " ")}
		return s, checkPlan(s)
	}
	return Schedule{}, fmt.Errorf("schedule %q: want \"every DURATION [jitter DURATION]\", \"cron EXPRESSION\" or \"off\"", text)
}

// checkPlan validates a schedule's plan.
func checkPlan(s Schedule) error {
	switch {
	case s.Every > 0 && s.Cron != "":
		return errors.New("a schedule is an interval or a cron expression, not both")
	case s.Cron != "":
		if s.Jitter != 0 {
			return errors.New("jitter applies to interval schedules only")
		}
		if _, err := cron.ParseStandard(s.Cron); err != nil {
			return fmt.Errorf("cron expression %q: %w", s.Cron, err)
		}
	case s.Every < 0 || s.Jitter < 0:
		return errors.New("interval and jitter must not be negative")
	case s.Every > 0 && s.Every < time.Second:
		return errors.New("the interval must be at least 1s")
	case s.Every > 0 && s.Jitter >= s.Every:
		return errors.New("the jitter must be less than the interval")
	case s.Every == 0 && s.Jitter != 0:
		return errors.New("jitter needs an interval")
	}
	return nil
}

// next is when a schedule fires next after now (zero for none or paused).
func next(s Schedule, now time.Time) time.Time {
	switch {
	case s.Paused || !s.Scheduled():
		return time.Time{}
	case s.Cron != "":
		c, err := cron.ParseStandard(s.Cron)
		if err != nil {
			return time.Time{} // checked when the schedule was set
		}
		return c.Next(now)
	}
	t := now.Add(s.Every)
	if s.Jitter > 0 {
		t = t.Add(rand.N(s.Jitter))
	}
	return t
}

func toStoredSchedule(s Schedule, configured string) storage.Schedule {
	return storage.Schedule{Flow: s.Flow, Every: s.Every, Jitter: s.Jitter, Cron: s.Cron, Paused: s.Paused, NextRunAt: s.NextRunAt,
		Configured: configured, LastFiredAt: s.LastFiredAt, LastRunID: s.LastRunID, LastResult: s.LastResult}
}

func fromStoredSchedule(s storage.Schedule) Schedule {
	return Schedule{Flow: s.Flow, Every: s.Every, Jitter: s.Jitter, Cron: s.Cron, Paused: s.Paused, NextRunAt: s.NextRunAt,
		LastFiredAt: s.LastFiredAt, LastRunID: s.LastRunID, LastResult: s.LastResult}
}

func (e *Engine) storedSchedules(ctx context.Context) (map[string]storage.Schedule, error) {
	list, err := e.st.Schedules(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]storage.Schedule, len(list))
	for _, s := range list {
		out[s.Flow] = s
	}
	return out, nil
}

// ConfigureSchedules applies the configuration's schedules (flow → plan text as ParseSchedule
// reads it) at start-up. A flow's configured plan replaces its stored schedule only when the
// configuration changed since it was last applied, so that a change made over the API is not undone
// by a restart with the same configuration.
func (e *Engine) ConfigureSchedules(ctx context.Context, plans map[string]string) error {
	stored, err := e.storedSchedules(ctx)
	if err != nil {
		return err
	}
	for flow, text := range plans {
		if _, ok := e.flows[flow]; !ok {
			return fmt.Errorf("schedule for unknown flow %q", flow)
		}
		s, err := ParseSchedule(text)
		if err != nil {
			return fmt.Errorf("%s: %w", flow, err)
		}
		canonical := s.String()
		old, had := stored[flow]
		if had && old.Configured == canonical {
			continue
		}
		if !had && !s.Scheduled() {
			continue
		}
		s.Flow = flow
		s.NextRunAt = next(s, e.cfg.Now())
		if had {
			s.LastFiredAt, s.LastRunID, s.LastResult = old.LastFiredAt, old.LastRunID, old.LastResult
		}
		if err := e.st.PutSchedule(ctx, toStoredSchedule(s, canonical)); err != nil {
			return err
		}
		e.log.Info("schedule configured", "flow", flow, "schedule", canonical, "next_run_at", s.NextRunAt)
	}
	return nil
}

// ListSchedules returns every flow's schedule, by flow (unscheduled flows included).
func (e *Engine) ListSchedules(ctx context.Context) ([]Schedule, error) {
	stored, err := e.storedSchedules(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Schedule, 0, len(e.flows))
	for _, flow := range e.flowNames() {
		s := Schedule{Flow: flow}
		if st, ok := stored[flow]; ok {
			s = fromStoredSchedule(st)
		}
		out = append(out, s)
	}
	return out, nil
}

// ScheduleUpdate changes a schedule: a new plan (Every with Jitter, or Cron), and/or pausing or
// resuming it (Paused set).
type ScheduleUpdate struct {
	Every, Jitter time.Duration
	Cron          string
	Paused        *bool
}

// UpdateSchedule changes flow's schedule and returns it. The next run time is computed from now.
func (e *Engine) UpdateSchedule(ctx context.Context, flow string, u ScheduleUpdate) (Schedule, error) {
	if _, ok := e.flows[flow]; !ok {
		return Schedule{}, invalidf("unknown flow %q", flow)
	}
	plan := u.Every > 0 || u.Cron != ""
	if !plan && u.Paused == nil {
		return Schedule{}, invalidf("give an interval, a cron expression, or pause or resume")
	}
	if !plan && u.Jitter != 0 {
		return Schedule{}, invalidf("jitter needs an interval")
	}
	stored, err := e.storedSchedules(ctx)
	if err != nil {
		return Schedule{}, err
	}
	old, had := stored[flow]
	s := Schedule{Flow: flow}
	configured := ""
	if had {
		s, configured = fromStoredSchedule(old), old.Configured
	}
	if plan {
		s.Every, s.Jitter, s.Cron = u.Every, u.Jitter, u.Cron
		if err := checkPlan(s); err != nil {
			return Schedule{}, invalidf("%v", err)
		}
	}
	if u.Paused != nil {
		s.Paused = *u.Paused
	}
	if !s.Scheduled() {
		return Schedule{}, invalidf("the %s flow has no schedule to pause or resume: give an interval or a cron expression", flow)
	}
	s.NextRunAt = next(s, e.cfg.Now())
	if err := e.st.PutSchedule(ctx, toStoredSchedule(s, configured)); err != nil {
		return Schedule{}, err
	}
	e.log.Info("schedule updated", "flow", flow, "schedule", s.String(), "paused", s.Paused, "next_run_at", s.NextRunAt)
	return s, nil
}

// FireDueSchedules starts a run (trigger schedule) for every schedule that is due, once per due
// time whoever else calls it at the same moment (the store's FireSchedule is a compare-and-set), and
// moves each to its next time from now. A flow that already has a run in progress is skipped, and
// the schedule's last result says so. The job system calls it about once a second.
func (e *Engine) FireDueSchedules(ctx context.Context) error {
	list, err := e.st.Schedules(ctx)
	if err != nil {
		return err
	}
	now := e.cfg.Now()
	for _, st := range list {
		if _, ok := e.flows[st.Flow]; !ok || st.Paused || st.NextRunAt.IsZero() || st.NextRunAt.After(now) {
			continue
		}
		s := fromStoredSchedule(st)
		nextAt := next(s, now)
		won, err := e.st.FireSchedule(ctx, s.Flow, st.NextRunAt, nextAt, storage.ScheduleFiring{At: now, Result: "starting"})
		if err != nil {
			return err
		}
		if !won {
			continue
		}
		run, err := e.Start(ctx, s.Flow, Options{Trigger: TriggerSchedule, Actor: "schedule"})
		result := "started"
		var inProgress *RunInProgressError
		switch {
		case errors.As(err, &inProgress):
			result = "skipped: run " + inProgress.RunID + " is in progress"
			e.log.Info("scheduled run skipped", "flow", s.Flow, "running", inProgress.RunID)
		case err != nil:
			text, ref := PublicText(err)
			if ref != "" {
				e.log.Error("scheduled run not started", "flow", s.Flow, "ref", ref, "error", err)
			}
			result = "not started: " + text
		default:
			e.log.Info("scheduled run started", "flow", s.Flow, "run_id", run.ID, "next_run_at", nextAt)
		}
		// Same compare-and-set, on the time just set: records the result unless the schedule was
		// changed meanwhile.
		if _, err := e.st.FireSchedule(ctx, s.Flow, nextAt, nextAt, storage.ScheduleFiring{At: now, RunID: run.ID, Result: result}); err != nil {
			return err
		}
	}
	return nil
}
