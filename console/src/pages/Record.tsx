import { useState } from "react";
import { useQuery } from "@connectrpc/connect-query";
import { Flow, SyncService } from "../gen/syncgate/v1/syncgate_pb";
import { firstPage, token, type Pager } from "../pager";
import { href } from "../router";
import { ErrorBox, FlowSelect, Json, PagerBar, Time, flowName, flowOf, useI18n } from "../ui";
import { RecordsTable } from "./RunDetail";

const PAGE = 25;

/** RecordPage: one record's story, found by flow and source key: mapping, last payload, history. */
export function RecordPage({ params }: { params: URLSearchParams }) {
  const { t } = useI18n();
  const flow = flowOf(params.get("flow")) || Flow.CUSTOMERS;
  const key = params.get("key") ?? "";
  const [formFlow, setFormFlow] = useState<Flow>(flow);
  const [formKey, setFormKey] = useState(key);
  const [pager, setPager] = useState<Pager>(firstPage);
  const q = useQuery(SyncService.method.getRecord, { flow, sourceKey: key, pageSize: PAGE, pageToken: token(pager) }, { enabled: key !== "" });
  return (
    <section data-testid="record">
      <h1>{t.record}</h1>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          setPager(firstPage);
          window.location.hash = href("record", "", { flow: flowName(formFlow), key: formKey.trim() });
        }}
      >
        <FlowSelect value={formFlow} onChange={setFormFlow} />
        <input type="text" name="sourceKey" aria-label={t.sourceKey} placeholder={t.sourceKey} value={formKey} onChange={(e) => setFormKey(e.target.value)} />
        <button type="submit" disabled={formKey.trim() === ""}>
          {t.search}
        </button>
      </form>
      <ErrorBox error={q.error} />
      {q.data && (
        <>
          <h2>
            {flowName(flow)} <code>{q.data.sourceKey}</code>
          </h2>
          <h3>{t.mapping}</h3>
          {q.data.mapping ? (
            <dl className="facts" data-testid="mapping">
              <dt>{t.targetKey}</dt>
              <dd>
                <code>{q.data.mapping.targetKey}</code>
              </dd>
              <dt>{t.created}</dt>
              <dd>
                <Time ts={q.data.mapping.createdAt} />
              </dd>
              <dt>{t.delivered}</dt>
              <dd>
                <Time ts={q.data.mapping.deliveredAt} />
              </dd>
              <dt>{t.payload}</dt>
              <dd>
                <Json text={q.data.mapping.payload} label={t.payload} />
              </dd>
            </dl>
          ) : (
            <p className="muted">{t.notMapped}</p>
          )}
          {q.data.deadLetter && (
            <>
              <h3>{t.deadLetter}</h3>
              <dl className="facts">
                <dt>{t.attempts}</dt>
                <dd>{q.data.deadLetter.attempts}</dd>
                <dt>{t.lastError}</dt>
                <dd className="bad">{q.data.deadLetter.lastError}</dd>
                <dt>{t.lastFailed}</dt>
                <dd>
                  <Time ts={q.data.deadLetter.lastFailedAt} />
                </dd>
              </dl>
            </>
          )}
          <h3>{t.history}</h3>
          <RecordsTable rows={q.data.history} flow={flowName(flow)} showRun />
          <PagerBar pager={pager} next={q.data.nextPageToken} onChange={setPager} />
        </>
      )}
    </section>
  );
}
