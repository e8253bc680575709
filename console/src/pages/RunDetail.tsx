import { useEffect, useState } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { Action, RunStatus, SyncService, type RecordOutcome } from "../gen/syncgate/v1/syncgate_pb";
import { firstPage, token, type Pager } from "../pager";
import { formatDuration, formatRate, rate } from "../format";
import { href } from "../router";
import { ErrorBox, Expand, Json, PagerBar, Time, actionName, date, flowName, triggerName, useI18n } from "../ui";
import { LiveProgress, useWatchedRun } from "./Live";

const OUTCOMES = ["ok", "transient", "permanent", "skipped", "dropped", "discarded"];
const ACTIONS = [Action.ADD, Action.UPDATE, Action.SKIP, Action.FAIL];
const PAGE = 50;

/** RunDetail: one run's counts and timing, live while it runs, and its audit trail paged and filtered. */
export function RunDetail({ id }: { id: string }) {
  const { t, loc } = useI18n();
  const qc = useQueryClient();
  const q = useQuery(SyncService.method.getRun, { runId: id });
  const run = useWatchedRun(q.data?.run);
  const ended = run !== undefined && run.status !== RunStatus.RUNNING;
  const wasRunning = q.data?.run?.status === RunStatus.RUNNING;
  useEffect(() => {
    if (ended && wasRunning) qc.invalidateQueries(); // the final snapshot arrived: reread the run and its trail
  }, [ended, wasRunning, qc]);
  if (q.isPending) return <p>{t.loading}</p>;
  if (q.error || !run) return <ErrorBox error={q.error} />;
  const started = date(run.startedAt)?.getTime() ?? 0;
  const finished = date(run.finishedAt)?.getTime();
  const elapsed = started > 0 ? (finished ?? Date.now()) - started : 0;
  return (
    <section data-testid="run-detail">
      <h1>
        {t.runDetail} <code>{run.id}</code>
      </h1>
      <LiveProgress run={run} onChange={() => qc.invalidateQueries()} />
      <dl className="facts">
        <dt>{t.flow}</dt>
        <dd>{flowName(run.flow)}</dd>
        <dt>{t.trigger}</dt>
        <dd>
          {triggerName(run.trigger)} {run.actor && <span className="muted">({run.actor})</span>}
          {run.dryRun && <span className="badge">{t.dryRun}</span>}
          {run.fullResync && <span className="badge">{t.fullResync}</span>}
        </dd>
        <dt>{t.started}</dt>
        <dd>
          <Time ts={run.startedAt} />
        </dd>
        <dt>{t.finished}</dt>
        <dd>
          <Time ts={run.finishedAt} />
        </dd>
        <dt>{t.duration}</dt>
        <dd>{formatDuration(elapsed)}</dd>
        <dt>{t.rate}</dt>
        <dd>{formatRate(rate(Number(run.counts?.read ?? 0n), elapsed), loc)}</dd>
        <dt>{t.retried}</dt>
        <dd>{Number(run.counts?.retried ?? 0n)}</dd>
        <dt>{t.window}</dt>
        <dd>
          {run.window ? (
            <>
              {run.window.start ? <Time ts={run.window.start} /> : t.fromBeginning} – <Time ts={run.window.end} />
            </>
          ) : (
            <span className="muted">–</span>
          )}
        </dd>
        {run.sourceKeys.length > 0 && (
          <>
            <dt>{t.sourceKey}</dt>
            <dd>{run.sourceKeys.join(", ")}</dd>
          </>
        )}
        {run.error !== "" && (
          <>
            <dt>{t.error_}</dt>
            <dd className="bad">{run.error}</dd>
          </>
        )}
      </dl>
      <Trail runId={run.id} flow={flowName(run.flow)} />
    </section>
  );
}

function Trail({ runId, flow }: { runId: string; flow: string }) {
  const { t } = useI18n();
  const [action, setAction] = useState<Action>(Action.UNSPECIFIED);
  const [outcome, setOutcome] = useState("");
  const [pager, setPager] = useState<Pager>(firstPage);
  const q = useQuery(SyncService.method.getRun, { runId, includeRecords: true, pageSize: PAGE, pageToken: token(pager), action, outcome });
  return (
    <>
      <h2>{t.auditTrail}</h2>
      <div className="filters">
        <select aria-label={t.action} name="action" value={action} onChange={(e) => (setAction(Number(e.target.value)), setPager(firstPage))}>
          <option value={Action.UNSPECIFIED}>{t.anyAction}</option>
          {ACTIONS.map((a) => (
            <option key={a} value={a}>
              {actionName(a)}
            </option>
          ))}
        </select>
        <select aria-label={t.outcome} name="outcome" value={outcome} onChange={(e) => (setOutcome(e.target.value), setPager(firstPage))}>
          <option value="">{t.anyOutcome}</option>
          {OUTCOMES.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      </div>
      <ErrorBox error={q.error} />
      {q.data && (
        <>
          <RecordsTable rows={q.data.records} flow={flow} />
          <PagerBar pager={pager} next={q.data.nextPageToken} onChange={setPager} />
        </>
      )}
    </>
  );
}

/** RecordsTable lists audit rows; each row opens its request and response as formatted JSON. */
export function RecordsTable({ rows, flow, showRun }: { rows: RecordOutcome[]; flow: string; showRun?: boolean }) {
  const { t } = useI18n();
  return (
    <table className="grid" data-testid="records">
      <thead>
        <tr>
          {showRun && <th>{t.runDetail}</th>}
          <th>{t.sourceKey}</th>
          <th>{t.targetKey}</th>
          <th>{t.action}</th>
          <th>{t.outcome}</th>
          <th>{t.attempt}</th>
          <th>{t.operation}</th>
          <th>{t.at}</th>
          <th>{t.request}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i} data-source-key={r.sourceKey} data-outcome={r.outcome}>
            {showRun && (
              <td>
                <a href={href("runs", r.runId)}>{r.runId}</a>
              </td>
            )}
            <td>{r.sourceKey ? <a href={href("record", "", { flow, key: r.sourceKey })}>{r.sourceKey}</a> : <span className="muted">–</span>}</td>
            <td>{r.targetKey}</td>
            <td>{actionName(r.action)}</td>
            <td className={r.outcome === "ok" ? "ok" : r.outcome === "permanent" || r.outcome === "transient" ? "bad" : ""}>
              {r.outcome}
              {r.error && <div className="bad small">{r.error}</div>}
            </td>
            <td>{r.attempt || ""}</td>
            <td>
              {r.vendor} {r.operation}
            </td>
            <td>
              <Time ts={r.at} />
            </td>
            <td>
              {(r.request !== "" || r.response !== "") && (
                <Expand>
                  <div className="bodies">
                    <div>
                      <h4>{t.request}</h4>
                      <Json text={r.request} label={t.request} />
                    </div>
                    <div>
                      <h4>{t.response}</h4>
                      <Json text={r.response} label={t.response} />
                    </div>
                  </div>
                </Expand>
              )}
            </td>
          </tr>
        ))}
        {rows.length === 0 && (
          <tr>
            <td colSpan={9} className="muted">
              {t.noRows}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
