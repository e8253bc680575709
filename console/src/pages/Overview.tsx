import { useQuery } from "@connectrpc/connect-query";
import { SyncService, type Schedule } from "../gen/syncgate/v1/syncgate_pb";
import { href } from "../router";
import { CountsLine, ErrorBox, StatusBadge, Time, flowName, useI18n } from "../ui";
import { formatDuration } from "../format";

/** Overview: per flow its schedule, latest runs, checkpoint and dead letters; per vendor its health. */
export function Overview() {
  const { t, loc } = useI18n();
  const q = useQuery(SyncService.method.getOverview, { lastRuns: 5 }, { refetchInterval: 5000 });
  if (q.isPending) return <p>{t.loading}</p>;
  if (q.error) return <ErrorBox error={q.error} />;
  const o = q.data;
  return (
    <section data-testid="overview">
      <h1>{t.overview}</h1>
      <div className="cards">
        {o.flows.map((f) => (
          <div className="card" key={f.flow} data-flow={flowName(f.flow)}>
            <h2>{flowName(f.flow) === "customers" ? t.customers : t.agents}</h2>
            <dl>
              <dt>{t.schedule}</dt>
              <dd>{scheduleText(f.schedule, t)}</dd>
              <dt>{t.nextRun}</dt>
              <dd>
                <Time ts={f.schedule?.nextRunAt} />
              </dd>
              <dt>{t.checkpoint}</dt>
              <dd>
                {f.checkpoint ? (
                  <>
                    <Time ts={f.checkpoint.modifiedAt} /> <code>{f.checkpoint.sourceKey}</code>
                  </>
                ) : (
                  <span className="muted">{t.none}</span>
                )}
              </dd>
              <dt>{t.deadLetters}</dt>
              <dd>
                <a href={href("dead-letters", "", { flow: flowName(f.flow) })} data-testid="dead-letter-count">
                  {Number(f.deadLetters).toLocaleString(loc)}
                </a>
              </dd>
              <dt>{t.running}</dt>
              <dd>{f.runningRunId ? <a href={href("runs", f.runningRunId)}>{f.runningRunId}</a> : <span className="muted">{t.none}</span>}</dd>
            </dl>
            <h3>{t.lastRuns}</h3>
            <table>
              <tbody>
                {f.lastRuns.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <a href={href("runs", r.id)}><code>{r.id}</code></a>
                    </td>
                    <td>
                      <StatusBadge status={r.status} />
                    </td>
                    <td>
                      <Time ts={r.startedAt} />
                    </td>
                    <td>
                      <CountsLine run={r} />
                    </td>
                  </tr>
                ))}
                {f.lastRuns.length === 0 && (
                  <tr>
                    <td className="muted">{t.noRows}</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
        ))}
      </div>
      <h2>{t.vendors}</h2>
      <table className="grid" data-testid="vendors">
        <thead>
          <tr>
            <th>{t.vendor}</th>
            <th>{t.lastCall}</th>
            <th>{t.operation}</th>
            <th>{t.status}</th>
            <th>{t.attempts}</th>
            <th>{t.failures}</th>
            <th>{t.throttled}</th>
            <th>{t.lastThrottled}</th>
          </tr>
        </thead>
        <tbody>
          {o.vendors.map((v) => (
            <tr key={v.vendor}>
              <td>{v.vendor}</td>
              <td>
                <Time ts={v.lastCallAt} />
              </td>
              <td>{v.lastOperation}</td>
              <td>{v.lastCallAt ? v.lastOk ? <span className="ok">{t.ok}</span> : <span className="bad">{v.lastError}</span> : ""}</td>
              <td>{Number(v.attempts).toLocaleString(loc)}</td>
              <td>{Number(v.failures).toLocaleString(loc)}</td>
              <td>{Number(v.throttled).toLocaleString(loc)}</td>
              <td>
                <Time ts={v.lastThrottledAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {o.retention && (
        <>
          <h2>{t.retention}</h2>
          <dl data-testid="retention">
            <dt>{t.retentionPolicy}</dt>
            <dd>{o.retention.enabled ? <code>{o.retention.policy}</code> : t.retentionOff}</dd>
            <dt>{t.lastPass}</dt>
            <dd>{o.retention.lastPass ? <Time ts={o.retention.lastPass.startedAt} /> : <span className="muted">{t.noPassYet}</span>}</dd>
            {o.retention.lastPass && (
              <>
                <dt>{t.removed}</dt>
                <dd data-testid="retention-removed">
                  {t.runsAndRows(Number(o.retention.lastPass.runs).toLocaleString(loc), Number(o.retention.lastPass.records).toLocaleString(loc))}
                  {o.retention.lastPass.error !== "" ? (
                    <span className="bad">
                      {" "}
                      {t.passStoppedEarly}: {o.retention.lastPass.error}
                    </span>
                  ) : (
                    !o.retention.lastPass.finishedAt && <span className="muted"> {t.passNotFinished}</span>
                  )}
                </dd>
              </>
            )}
          </dl>
        </>
      )}
    </section>
  );
}

function scheduleText(s: Schedule | undefined, t: { paused: string; none: string; every: string; jitter: string }): string {
  if (!s) return t.none;
  let text = t.none;
  if (s.every) {
    text = `${t.every} ${formatDuration(Number(s.every.seconds) * 1000 + s.every.nanos / 1e6)}`;
    if (s.jitter && (s.jitter.seconds > 0n || s.jitter.nanos > 0)) {
      text += `, ${t.jitter} ${formatDuration(Number(s.jitter.seconds) * 1000 + s.jitter.nanos / 1e6)}`;
    }
  } else if (s.cron !== "") {
    text = `cron ${s.cron}`;
  }
  return s.paused ? `${text} (${t.paused})` : text;
}
