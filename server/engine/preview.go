package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/syncgate/syncgate/server/mapping"
	"github.com/syncgate/syncgate/server/storage"
)

// Preview shows what a sync would send for the given records (see PreviewReport).
func (e *Engine) Preview(ctx context.Context, flow string, in PreviewInput) ([]PreviewItem, error) {
	res, err := e.PreviewReport(ctx, flow, in)
	return res.Items, err
}

// PreviewResult is a preview and what it cost.
type PreviewResult struct {
	Items []PreviewItem
	// SourcePages is how many pages of the source the preview read (pending records, or keys from a
	// source that pages through its records to find them).
	SourcePages int
}

// PreviewReport shows what a sync would send for the given records. It shares the planner with the
// syncs and can only read: the store is seen through storage.Reader and the target is asked only to
// Prepare a body. A preview by keys from a source that can only page through its records reads at
// most Config.PreviewScanPages pages, and at most Config.PreviewScans such previews run at once.
func (e *Engine) PreviewReport(ctx context.Context, flow string, in PreviewInput) (PreviewResult, error) {
	items, pages, err := e.preview(ctx, flow, in)
	return PreviewResult{Items: items, SourcePages: pages}, err
}

func (e *Engine) preview(ctx context.Context, flow string, in PreviewInput) (_ []PreviewItem, pages int, _ error) {
	f, ok := e.flows[flow]
	if !ok {
		return nil, 0, invalidf("unknown flow %q", flow)
	}
	reader := e.st.ReadOnly()
	spec := f.Spec
	if in.SpecText != "" {
		s, err := mapping.Parse("request spec", []byte(in.SpecText))
		if err != nil {
			return nil, pages, fmt.Errorf("%w: %w", ErrInvalidInput, err) // the *mapping.SpecError stays reachable for the API's error detail
		}
		if s.Flow() != flow {
			return nil, pages, invalidf("the spec is for flow %q, not %q", s.Flow(), flow)
		}
		spec = s
		if f.WithSpec != nil {
			g, err := f.WithSpec(s)
			if err != nil {
				return nil, pages, invalidf("%v", err)
			}
			f = g
		}
	}
	cp, haveCP, err := reader.Checkpoint(ctx, flow)
	if err != nil {
		return nil, pages, err
	}
	q, _ := readQuery(f, Options{}, cp, haveCP, e.cfg.Now())
	vars := mapping.Vars{LastSyncTime: q.After.Time, CurrentTime: q.End}

	var recs []SourceRecord
	var missing []string
	var missingMsg string
	switch {
	case len(in.Records) > 0:
		for i, raw := range in.Records {
			r, err := f.Source.Decode(raw)
			if err != nil {
				return nil, pages, invalidf("record %d: %v", i, err)
			}
			recs = append(recs, r)
		}
	case len(in.Keys) > 0:
		truncated := false
		if sf, ok := f.Source.(ScanFetcher); ok {
			select {
			case e.previewScans <- struct{}{}:
			case <-ctx.Done():
				return nil, 0, fmt.Errorf("wait for a turn to page through the source: %w", ctx.Err())
			}
			recs, pages, truncated, err = sf.FetchScan(ctx, in.Keys, e.cfg.PreviewScanPages)
			<-e.previewScans
		} else {
			recs, err = f.Source.Fetch(ctx, in.Keys)
		}
		if err != nil {
			return nil, pages, fmt.Errorf("fetch source records: %w", err)
		}
		missingMsg = "no such record in the source system, or not one this flow syncs"
		if truncated {
			missingMsg = fmt.Sprintf("not found in the first %d pages of the source, which is as far as a preview looks (the source has no lookup by key; a sync reads everything)", pages)
		}
		found := map[string]bool{}
		for _, r := range recs {
			found[r.Key] = true
			for _, alt := range aliases(f.Source, r) {
				found[alt] = true
			}
		}
		for _, k := range in.Keys {
			if !found[k] {
				missing = append(missing, k)
			}
		}
	case in.Pending > 0:
		err := f.Source.Read(ctx, q, func(page []SourceRecord) error {
			pages++
			recs = append(recs, page[:min(len(page), in.Pending-len(recs))]...)
			if len(recs) >= in.Pending {
				return errLimitReached
			}
			return nil
		})
		if err != nil && !errors.Is(err, errLimitReached) {
			return nil, pages, fmt.Errorf("read pending records: %w", err)
		}
	default:
		return nil, pages, invalidf("give inline records, source keys or a pending count")
	}

	// Every field, not just those the flow's spec reads: the preview shows the whole source record and
	// may render it with another spec.
	for i := range recs {
		recs[i].Fields, recs[i].All = recs[i].AllFields(), nil
	}
	plans, err := e.plan(ctx, f, spec, reader, recs, vars)
	if err != nil {
		return nil, pages, err
	}
	found, err := findExisting(ctx, f.Target, plans)
	if err != nil {
		return nil, pages, fmt.Errorf("look up existing target records: %w", err)
	}
	items := make([]PreviewItem, 0, len(plans)+len(missing))
	for i, p := range plans {
		var existsNote string
		if key, ok := found[i]; ok {
			// The sync would find this record in the target and update it rather than add a duplicate.
			p.action, p.mapping = ActionUpdate, &storage.Mapping{TargetKey: key}
			existsNote = fmt.Sprintf("already in the target as %s without a local id mapping (written before a crash, or by hand): the sync updates it", key)
		}
		it := PreviewItem{SourceKey: p.rec.Key, Source: p.rec.Fields, TargetOperation: f.Target.Operation(), Action: p.action, TargetKey: targetKeyOf(p)}
		if p.err != nil {
			it.Errors = append(it.Errors, Issue{Message: p.err.Error()})
			items = append(items, it)
			continue
		}
		for _, w := range p.payload.Warnings() {
			it.Warnings = append(it.Warnings, Issue{Field: w.Field, Message: w.Message})
		}
		if existsNote != "" {
			it.Warnings = append(it.Warnings, Issue{Message: existsNote})
		}
		pl := p.planned()
		if pl.Action == ActionSkip {
			pl.Action = ActionUpdate // show the body an update would carry
		}
		body, opts, err := prepare(ctx, f.Target, pl)
		if err != nil {
			it.Errors = append(it.Errors, Issue{Message: err.Error()})
		}
		it.Body, it.CallOptions = body, opts
		if p.mapping != nil && len(p.mapping.Payload) > 0 && p.payload != nil {
			// Mapped payload against mapped payload: what the mapping now yields differently, without
			// the call's bookkeeping (actionType, FCUSTID, a kept distributorCode).
			it.Diff = diffJSON(p.mapping.Payload, p.payload.Canonical())
		}
		items = append(items, it)
	}
	for _, k := range missing {
		items = append(items, PreviewItem{SourceKey: k, TargetOperation: f.Target.Operation(), Action: ActionFail,
			Errors: []Issue{{Message: missingMsg}}})
	}
	return items, pages, nil
}

// existingFinder is a Target that can tell, by reading only, which unmapped records already exist in
// it (the Kingdee writer looks agents up by F_out_id); Preview then shows the update the sync makes.
type existingFinder interface {
	FindExisting(ctx context.Context, items []Planned) (map[int]string, error)
}

// findExisting asks the target which planned adds already exist there, by plan index.
func findExisting(ctx context.Context, t Target, plans []plan) (map[int]string, error) {
	ef, ok := t.(existingFinder)
	if !ok {
		return nil, nil
	}
	var adds []Planned
	var idx []int
	for i, p := range plans {
		if p.action == ActionAdd {
			adds = append(adds, p.planned())
			idx = append(idx, i)
		}
	}
	if len(adds) == 0 {
		return nil, nil
	}
	got, err := ef.FindExisting(ctx, adds)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(got))
	for j, key := range got {
		out[idx[j]] = key
	}
	return out, nil
}

// livePreparer is a Target whose exact request depends on what the target holds now (Kingdee
// updates with if_empty fields): PrepareLive reads it first, and only reads.
type livePreparer interface {
	PrepareLive(ctx context.Context, p Planned) ([]byte, map[string]any, error)
}

// prepare is the target's Prepare, reading the target first where the request depends on it.
func prepare(ctx context.Context, t Target, p Planned) ([]byte, map[string]any, error) {
	if lp, ok := t.(livePreparer); ok {
		return lp.PrepareLive(ctx, p)
	}
	return t.Prepare(p)
}

// aliasSource is a Source whose records also answer to other keys (a Kingdee customer's number
// besides its FCUSTID), which Preview by keys then accepts.
type aliasSource interface {
	Aliases(r SourceRecord) []string
}

// aliases are the other keys r answers to, if its source has any.
func aliases(src Source, r SourceRecord) []string {
	if as, ok := src.(aliasSource); ok {
		return as.Aliases(r)
	}
	return nil
}

// diffJSON lists the fields that differ between the last delivered payload and the new one, by path
// (mapping.Diff: a base-data reference shows as "FUseOrgId.FNumber"); numbers compare by value.
func diffJSON(oldBody, newBody []byte) []FieldChange {
	var out []FieldChange
	for _, c := range mapping.Diff(decodeObject(oldBody), decodeObject(newBody)) {
		out = append(out, FieldChange{Field: c.Field, Old: c.Old, New: c.New})
	}
	return out
}

// decodeObject decodes a JSON object with numbers kept as written; anything else is an empty object.
func decodeObject(b []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}
