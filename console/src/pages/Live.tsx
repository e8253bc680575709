import { useEffect, useState } from "react";
import { createClient } from "@connectrpc/connect";
import { useMutation, useTransport } from "@connectrpc/connect-query";
import { RunStatus, SyncService, type Run } from "../gen/syncgate/v1/syncgate_pb";
import { formatDuration, formatRate, rate } from "../format";
import { CountsLine, ErrorBox, StatusBadge, date, useI18n } from "../ui";

/**
 * useWatchedRun follows a run over WatchRun while it runs: each snapshot replaces the last, the final
 * one has the final status. A run that is not running is returned as given.
 */
export function useWatchedRun(initial: Run | undefined): Run | undefined {
  const transport = useTransport();
  const [live, setLive] = useState<Run | undefined>(undefined);
  const id = initial?.id ?? "";
  const running = initial?.status === RunStatus.RUNNING;
  useEffect(() => {
    setLive(undefined);
    if (!running || id === "") return;
    const abort = new AbortController();
    const client = createClient(SyncService, transport);
    (async () => {
      try {
        for await (const res of client.watchRun({ runId: id }, { signal: abort.signal })) {
          if (res.run) setLive(res.run);
        }
      } catch {
        // The stream ended early (page left, gateway gone): the page's own query shows the state.
      }
    })();
    return () => abort.abort();
  }, [id, running, transport]);
  return live ?? initial;
}

/** progress is the bar's fill (0..1): delivered of a known total, else of the records read. */
export function progress(run: Run): number {
  const c = run.counts;
  if (!c) return 0;
  const done = Number(c.added + c.updated + c.skipped + c.failed);
  const total = run.sourceKeys.length > 0 ? run.sourceKeys.length : run.limit > 0 ? run.limit : Number(c.read);
  if (run.status !== RunStatus.RUNNING) return 1;
  return total > 0 ? Math.min(1, done / total) : 0;
}

/** LiveProgress shows a run's status, a progress bar, its rate and counts, and a cancel button. */
export function LiveProgress({ run, onChange }: { run: Run; onChange?: () => void }) {
  const { t, loc } = useI18n();
  const cancel = useMutation(SyncService.method.cancelRun, { onSuccess: () => onChange?.() });
  const started = date(run.startedAt)?.getTime() ?? 0;
  const end = date(run.finishedAt)?.getTime() ?? Date.now();
  const elapsed = started > 0 ? end - started : 0;
  const p = progress(run);
  return (
    <div className="live" data-testid="live" data-status={RunStatus[run.status]}>
      <StatusBadge status={run.status} />
      <progress max={1} value={p} aria-label={t.live} />
      <span>
        {t.rate} {formatRate(rate(Number(run.counts?.read ?? 0n), elapsed), loc)} · {formatDuration(elapsed)}
      </span>
      <CountsLine run={run} />
      {run.status === RunStatus.RUNNING && !run.dryRun && (
        <button type="button" onClick={() => cancel.mutate({ runId: run.id })} disabled={cancel.isPending}>
          {t.cancel}
        </button>
      )}
      {cancel.isSuccess && <span className="muted">{t.cancelAsked}</span>}
      <ErrorBox error={cancel.error} />
    </div>
  );
}
