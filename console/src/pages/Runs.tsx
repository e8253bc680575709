import { useState } from "react";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { Flow, RunStatus, SyncService, type Run } from "../gen/syncgate/v1/syncgate_pb";
import { firstPage, token, type Pager } from "../pager";
import { parseKeys } from "../format";
import { href } from "../router";
import { CountsLine, ErrorBox, FlowSelect, PagerBar, StatusBadge, Time, flowName, statusName, triggerName, useI18n } from "../ui";
import { LiveProgress, useWatchedRun } from "./Live";

const PAGE = 25;

/** Runs: the run history with filters, live progress of running runs, and a form to start a run. */
export function Runs() {
  const { t } = useI18n();
  const [flow, setFlow] = useState<Flow>(Flow.UNSPECIFIED);
  const [status, setStatus] = useState<RunStatus>(RunStatus.UNSPECIFIED);
  const [pager, setPager] = useState<Pager>(firstPage);
  const q = useQuery(SyncService.method.listRuns, { flow, status, pageSize: PAGE, pageToken: token(pager) }, { refetchInterval: 5000 });
  return (
    <section>
      <h1>{t.runs}</h1>
      <StartRun />
      <div className="filters">
        <FlowSelect value={flow} any onChange={(f) => (setFlow(f), setPager(firstPage))} />
        <select aria-label={t.status} name="status" value={status} onChange={(e) => (setStatus(Number(e.target.value)), setPager(firstPage))}>
          <option value={RunStatus.UNSPECIFIED}>{t.allStatuses}</option>
          {[RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED].map((s) => (
            <option key={s} value={s}>
              {statusName(s)}
            </option>
          ))}
        </select>
      </div>
      <ErrorBox error={q.error} />
      {q.isPending && <p>{t.loading}</p>}
      {q.data && (
        <>
          <table className="grid" data-testid="runs">
            <thead>
              <tr>
                <th>ID</th>
                <th>{t.flow}</th>
                <th>{t.status}</th>
                <th>{t.trigger}</th>
                <th>{t.started}</th>
                <th>{t.counts}</th>
              </tr>
            </thead>
            <tbody>
              {q.data.runs.map((r) => (
                <RunRow key={r.id} run={r} />
              ))}
              {q.data.runs.length === 0 && (
                <tr>
                  <td colSpan={6} className="muted">
                    {t.noRows}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
          <PagerBar pager={pager} next={q.data.nextPageToken} onChange={setPager} />
        </>
      )}
    </section>
  );
}

function RunRow({ run }: { run: Run }) {
  const live = useWatchedRun(run) ?? run;
  const qc = useQueryClient();
  return (
    <tr data-run={run.id}>
      <td>
        <a href={href("runs", run.id)}>{run.id}</a>
      </td>
      <td>{flowName(run.flow)}</td>
      <td>{live.status === RunStatus.RUNNING ? <LiveProgress run={live} onChange={() => qc.invalidateQueries()} /> : <StatusBadge status={live.status} />}</td>
      <td>
        {triggerName(run.trigger)} {run.actor && <span className="muted">({run.actor})</span>}
      </td>
      <td>
        <Time ts={run.startedAt} />
      </td>
      <td>
        <CountsLine run={live} />
      </td>
    </tr>
  );
}

/** StartRun starts a sync (dry run, full resync, source keys) and opens the new run. */
function StartRun() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [flow, setFlow] = useState<Flow>(Flow.CUSTOMERS);
  const [dryRun, setDryRun] = useState(false);
  const [full, setFull] = useState(false);
  const [keys, setKeys] = useState("");
  const opened = (run?: Run) => {
    qc.invalidateQueries();
    if (run) window.location.hash = href("runs", run.id);
  };
  const customers = useMutation(SyncService.method.syncCustomers, { onSuccess: (r) => opened(r.run) });
  const agents = useMutation(SyncService.method.syncAgents, { onSuccess: (r) => opened(r.run) });
  const pending = customers.isPending || agents.isPending;
  return (
    <form
      className="panel"
      data-testid="start-run"
      onSubmit={(e) => {
        e.preventDefault();
        const options = { dryRun, fullResync: full, sourceKeys: parseKeys(keys) };
        if (flow === Flow.AGENTS) agents.mutate({ options });
        else customers.mutate({ options });
      }}
    >
      <h2>{t.startRun}</h2>
      <div className="row">
        <FlowSelect value={flow} onChange={setFlow} />
        <label>
          <input type="checkbox" name="dryRun" checked={dryRun} onChange={(e) => setDryRun(e.target.checked)} /> {t.dryRun}
        </label>
        <label>
          <input type="checkbox" name="fullResync" checked={full} onChange={(e) => setFull(e.target.checked)} /> {t.fullResync}
        </label>
      </div>
      <label className="block">
        {t.keys}
        <input type="text" name="keys" value={keys} onChange={(e) => setKeys(e.target.value)} />
      </label>
      <button type="submit" disabled={pending}>
        {t.start}
      </button>
      <ErrorBox error={customers.error ?? agents.error} />
    </form>
  );
}
