import { useState } from "react";
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { Flow, SyncService } from "../gen/syncgate/v1/syncgate_pb";
import { firstPage, token, type Pager } from "../pager";
import { href } from "../router";
import { ErrorBox, Expand, FlowSelect, Json, PagerBar, Time, flowName, flowOf, useI18n } from "../ui";

const PAGE = 50;

/** DeadLetters: a flow's dead letters, paged; retry the selected ones or all, discard with a reason. */
export function DeadLetters({ params }: { params: URLSearchParams }) {
  const { t, loc } = useI18n();
  const qc = useQueryClient();
  const [flow, setFlow] = useState<Flow>(flowOf(params.get("flow")) || Flow.CUSTOMERS);
  const [pager, setPager] = useState<Pager>(firstPage);
  const [selected, setSelected] = useState<string[]>([]);
  const [reason, setReason] = useState("");
  const q = useQuery(SyncService.method.listDeadLetters, { flow, pageSize: PAGE, pageToken: token(pager) });
  const done = () => {
    setSelected([]);
    qc.invalidateQueries();
  };
  const retry = useMutation(SyncService.method.retryDeadLetters, { onSuccess: done });
  const discard = useMutation(SyncService.method.discardDeadLetters, { onSuccess: done });
  const toggle = (k: string) => setSelected((s) => (s.includes(k) ? s.filter((x) => x !== k) : [...s, k]));
  const letters = q.data?.deadLetters ?? [];
  return (
    <section data-testid="dead-letters">
      <h1>{t.deadLetters}</h1>
      <div className="filters">
        <FlowSelect
          value={flow}
          onChange={(f) => {
            setFlow(f);
            setPager(firstPage);
            setSelected([]);
          }}
        />
        {q.data && (
          <span className="muted" data-testid="total">
            {t.total} {Number(q.data.total).toLocaleString(loc)}
          </span>
        )}
      </div>
      <div className="row">
        <button type="button" disabled={selected.length === 0 || retry.isPending} onClick={() => retry.mutate({ flow, sourceKeys: selected })}>
          {t.retrySelected} ({selected.length})
        </button>
        <button type="button" disabled={letters.length === 0 || retry.isPending} onClick={() => retry.mutate({ flow, sourceKeys: [] })}>
          {t.retryAll}
        </button>
        <input type="text" name="reason" aria-label={t.reason} placeholder={t.reason} value={reason} onChange={(e) => setReason(e.target.value)} />
        <button
          type="button"
          disabled={selected.length === 0 || reason.trim() === "" || discard.isPending}
          onClick={() => discard.mutate({ flow, sourceKeys: selected, reason: reason.trim() })}
        >
          {t.discardSelected}
        </button>
      </div>
      {retry.data?.run && (
        <p data-testid="retry-run">
          {t.retryStarted} <a href={href("runs", retry.data.run.id)}>{retry.data.run.id}</a>
        </p>
      )}
      {discard.data && (
        <p>
          {t.discarded} {discard.data.discarded.join(", ")}
        </p>
      )}
      <ErrorBox error={q.error ?? retry.error ?? discard.error} />
      {q.data && (
        <>
          <table className="grid" data-testid="letters">
            <thead>
              <tr>
                <th />
                <th>{t.sourceKey}</th>
                <th>{t.attempts}</th>
                <th>{t.lastError}</th>
                <th>{t.firstFailed}</th>
                <th>{t.lastFailed}</th>
                <th>{t.source}</th>
              </tr>
            </thead>
            <tbody>
              {letters.map((d) => (
                <tr key={d.sourceKey} data-source-key={d.sourceKey}>
                  <td>
                    <input type="checkbox" aria-label={d.sourceKey} checked={selected.includes(d.sourceKey)} onChange={() => toggle(d.sourceKey)} />
                  </td>
                  <td>
                    <a href={href("record", "", { flow: flowName(flow), key: d.sourceKey })}>{d.sourceKey}</a>
                  </td>
                  <td>{d.attempts}</td>
                  <td className="bad">{d.lastError}</td>
                  <td>
                    <Time ts={d.firstFailedAt} />
                  </td>
                  <td>
                    <Time ts={d.lastFailedAt} />
                  </td>
                  <td>{d.sourceRecord !== "" && <Expand><Json text={d.sourceRecord} /></Expand>}</td>
                </tr>
              ))}
              {letters.length === 0 && (
                <tr>
                  <td colSpan={7} className="muted">
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
