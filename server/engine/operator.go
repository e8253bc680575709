package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	"github.com/syncgate/syncgate/server/storage"
)

// DeadLetter is a record that failed permanently and waits to be retried or discarded.
type DeadLetter = storage.DeadLetter

// DeadLetterPage is a page of a flow's dead letters.
type DeadLetterPage struct {
	Letters       []DeadLetter
	NextPageToken string
	// Total is the number of the flow's dead letters.
	Total int64
}

// ListDeadLetters pages through flow's dead letters by source key (pageSize default 50).
func (e *Engine) ListDeadLetters(ctx context.Context, flow, pageToken string, pageSize int) (DeadLetterPage, error) {
	if _, ok := e.flows[flow]; !ok {
		return DeadLetterPage{}, invalidf("unknown flow %q", flow)
	}
	if pageSize <= 0 {
		pageSize = 50
	}
	after := ""
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || len(b) < 2 || b[0] != 'd' {
			return DeadLetterPage{}, invalidf("page token is not one this server issued")
		}
		after = string(b[1:])
	}
	r := e.st.ReadOnly()
	letters, err := r.DeadLetterPage(ctx, flow, after, pageSize+1)
	if err != nil {
		return DeadLetterPage{}, err
	}
	total, err := r.CountDeadLetters(ctx, flow)
	if err != nil {
		return DeadLetterPage{}, err
	}
	p := DeadLetterPage{Letters: letters, Total: total}
	if len(letters) > pageSize {
		p.Letters = letters[:pageSize]
		p.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("d" + letters[pageSize-1].SourceKey))
	}
	return p, nil
}

// RetryDeadLetters starts a run (trigger retry) that delivers flow's dead letters again: those of
// keys, or all when keys is empty. It reads nothing else and does not move the checkpoint.
func (e *Engine) RetryDeadLetters(ctx context.Context, flow string, keys []string, actor string) (Run, error) {
	opts := Options{Trigger: TriggerRetry, Actor: actor, RetryKeys: keys, RetryAll: len(keys) == 0}
	return e.Start(ctx, flow, opts)
}

// DiscardDeadLetters removes the dead letters of keys without delivering them, in a run of its own
// (trigger discard) that keeps one audit row per discarded record, outcome "discarded", with the
// reason. It takes the flow's run slot (so no run retries the letters meanwhile) and returns the run
// and the keys that had a letter.
func (e *Engine) DiscardDeadLetters(ctx context.Context, flow string, keys []string, reason, actor string) (Run, []string, error) {
	f, ok := e.flows[flow]
	if !ok {
		return Run{}, nil, invalidf("unknown flow %q", flow)
	}
	if len(keys) == 0 || reason == "" {
		return Run{}, nil, invalidf("name the dead letters to discard and give a reason")
	}
	st, err := e.register(ctx, f, Options{Trigger: TriggerDiscard, Actor: actor, SourceKeys: slices.Clone(keys)})
	if err != nil {
		return Run{}, nil, err
	}
	st.claim()
	run, _ := st.snapshot()
	letters, err := e.st.DeadLettersByKey(ctx, flow, keys)
	if err != nil {
		e.finish(st, StatusFailed, err)
		return Run{}, nil, err
	}
	now := e.cfg.Now()
	c := storage.PageCommit{Flow: flow, RunID: run.ID}
	discarded := make([]string, 0, len(letters))
	for _, d := range letters {
		discarded = append(discarded, d.SourceKey)
		c.Resolved = append(c.Resolved, d.SourceKey)
		c.Records = append(c.Records, storage.Record{RunID: run.ID, SourceKey: d.SourceKey, Action: ActionSkip, Outcome: "discarded",
			Request: string(d.Payload), Error: fmt.Sprintf("discarded by %s after %d failed attempts (last: %s): %s", actorName(actor), d.Attempts, d.LastError, reason), At: now})
	}
	counts := Counts{Read: int64(len(letters)), Skipped: int64(len(letters))}
	c.Counts = &counts
	if err := e.st.CommitPage(ctx, c); err != nil {
		e.finish(st, StatusFailed, err)
		return Run{}, nil, err
	}
	st.update(func(r *Run) { r.Counts = counts })
	e.finish(st, StatusSucceeded, nil)
	final, _ := st.snapshot()
	e.log.Info("dead letters discarded", "flow", flow, "run_id", run.ID, "discarded", len(discarded), "actor", actor, "reason", reason)
	return final, discarded, nil
}

func actorName(actor string) string {
	if actor == "" {
		return "an operator"
	}
	return actor
}

// RecordStory is one record's story: its id mapping, its dead letter, and a page of its audit
// history across runs, newest first.
type RecordStory struct {
	SourceKey     string
	Mapping       *storage.Mapping
	DeadLetter    *DeadLetter
	History       []RecordOutcome
	NextPageToken string
}

// GetRecord tells the story of flow's record key. A key the store does not know is looked up in the
// source (for customers a customer number names an FCUSTID); a record found nowhere is ErrNotFound.
func (e *Engine) GetRecord(ctx context.Context, flow, key, pageToken string, pageSize int) (RecordStory, error) {
	f, ok := e.flows[flow]
	if !ok {
		return RecordStory{}, invalidf("unknown flow %q", flow)
	}
	if pageSize <= 0 {
		pageSize = 50
	}
	story, found, err := e.recordStory(ctx, flow, key, pageToken, pageSize)
	if err != nil || found || pageToken != "" {
		return story, err
	}
	// Not in the store under this key: the source may know it by another name, or have it unsynced.
	recs, err := f.Source.Fetch(ctx, []string{key})
	if err != nil {
		return RecordStory{}, fmt.Errorf("look the record up in the source: %w", err)
	}
	if len(recs) == 0 {
		return RecordStory{}, fmt.Errorf("record %s of flow %s: %w", key, flow, ErrNotFound)
	}
	if recs[0].Key == key {
		return story, nil // in the source, never synced
	}
	story, _, err = e.recordStory(ctx, flow, recs[0].Key, "", pageSize)
	return story, err
}

func (e *Engine) recordStory(ctx context.Context, flow, key, pageToken string, pageSize int) (RecordStory, bool, error) {
	r := e.st.ReadOnly()
	story := RecordStory{SourceKey: key}
	ms, err := r.Mappings(ctx, flow, []string{key})
	if err != nil {
		return story, false, err
	}
	if m, ok := ms[key]; ok {
		story.Mapping = &m
	}
	dls, err := r.DeadLettersByKey(ctx, flow, []string{key})
	if err != nil {
		return story, false, err
	}
	if len(dls) > 0 {
		story.DeadLetter = &dls[0]
	}
	recs, next, err := r.RecordHistory(ctx, flow, key, pageToken, pageSize)
	if errors.Is(err, storage.ErrBadPageToken) {
		return story, false, invalidf("page token is not one this server issued")
	}
	if err != nil {
		return story, false, err
	}
	story.NextPageToken = next
	for _, rr := range recs {
		story.History = append(story.History, RecordOutcome{SourceKey: rr.SourceKey, TargetKey: rr.TargetKey, Action: rr.Action, Attempt: rr.Attempt,
			Vendor: rr.Vendor, Operation: rr.Operation, Request: rr.Request, Response: rr.Response, Outcome: rr.Outcome, Error: rr.Error, At: rr.At, RunID: rr.RunID})
	}
	return story, story.Mapping != nil || story.DeadLetter != nil || len(story.History) > 0, nil
}
