import { useRef, useState } from "react";
import { useMutation } from "@connectrpc/connect-query";
import type { JsonObject } from "@bufbuild/protobuf";
import { Flow, SyncService, type PreviewRecord } from "../gen/syncgate/v1/syncgate_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { PreviewRequestSchema } from "../gen/syncgate/v1/syncgate_pb";
import { describe, specProblems, type Problem } from "../specErrors";
import { parseKeys } from "../format";
import { ErrorBox, FlowSelect, Json, actionName, useI18n } from "../ui";
import { SpecEditor, placeCursor } from "./Editor";
import customersSpec from "../../../server/mapping/specs/customers.yaml?raw";
import agentsSpec from "../../../server/mapping/specs/agents.yaml?raw";

type Mode = "inline" | "keys" | "pending";

const sampleRecords: Record<number, string> = {
  [Flow.CUSTOMERS]: '[{"FCUSTID": 100001, "FNumber": "CUST0000001", "FName": "上海演示客户有限公司", "FUseOrgId.FNumber": "100"}]',
  [Flow.AGENTS]: '[{"agentId": "X1", "agentName": "演示代理商", "houseAddress": "上海市徐汇区", "updateTime": "2026-11-01 10:00:00"}]',
};

/** defaultSpec is the built-in spec of a flow, as embedded in the gateway when this console was built. */
export function defaultSpec(flow: Flow): string {
  return flow === Flow.AGENTS ? agentsSpec : customersSpec;
}

/** Preview playground: a flow, a mode and a spec edited in the page; shows what a sync would send. */
export function Preview() {
  const { t } = useI18n();
  const [flow, setFlow] = useState<Flow>(Flow.CUSTOMERS);
  const [mode, setMode] = useState<Mode>("pending");
  const [records, setRecords] = useState(sampleRecords[Flow.CUSTOMERS]);
  const [keys, setKeys] = useState("");
  const [count, setCount] = useState(3);
  const [spec, setSpec] = useState("");
  const [problems, setProblems] = useState<Problem[]>([]);
  const [inputError, setInputError] = useState("");
  const editor = useRef<HTMLTextAreaElement>(null);
  const preview = useMutation(SyncService.method.preview, {
    onSuccess: () => setProblems([]),
    onError: (err) => {
      const ps = specProblems(err);
      setProblems(ps);
      const first = ps.find((p) => p.line > 0);
      if (first && editor.current) placeCursor(editor.current, first.line, first.column);
    },
  });
  const submit = () => {
    setInputError("");
    const req: MessageInitShape<typeof PreviewRequestSchema> = { flow, spec };
    if (mode === "inline") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(records);
      } catch (e) {
        setInputError(String(e));
        return;
      }
      const list = (Array.isArray(parsed) ? parsed : [parsed]) as JsonObject[];
      req.source = { case: "inline", value: { records: list } };
    } else if (mode === "keys") {
      req.source = { case: "keys", value: { keys: parseKeys(keys) } };
    } else {
      req.source = { case: "pending", value: { count } };
    }
    preview.mutate(req);
  };
  return (
    <section data-testid="preview">
      <h1>{t.preview}</h1>
      <form
        className="panel"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <div className="row">
          <FlowSelect
            value={flow}
            onChange={(f) => {
              setFlow(f);
              setRecords(sampleRecords[f]);
              if (spec !== "") setSpec(defaultSpec(f));
              setProblems([]);
            }}
          />
          <label>
            {t.mode}{" "}
            <select name="mode" value={mode} onChange={(e) => setMode(e.target.value as Mode)}>
              <option value="inline">{t.inline}</option>
              <option value="keys">{t.keysMode}</option>
              <option value="pending">{t.pending}</option>
            </select>
          </label>
          {mode === "keys" && <input type="text" name="keys" aria-label={t.keysMode} placeholder="CUST0000001, AG0000001" value={keys} onChange={(e) => setKeys(e.target.value)} />}
          {mode === "pending" && (
            <label>
              {t.count} <input type="number" name="count" min={1} max={100} value={count} onChange={(e) => setCount(Number(e.target.value))} />
            </label>
          )}
        </div>
        {mode === "inline" && (
          <label className="block">
            {t.records}
            <textarea name="records" className="records" spellCheck={false} value={records} onChange={(e) => setRecords(e.target.value)} />
          </label>
        )}
        {inputError && <div className="error">{inputError}</div>}
        <div className="row">
          <span>{t.spec}</span>
          <button type="button" className="link" onClick={() => (setSpec(defaultSpec(flow)), setProblems([]))}>
            {t.loadDefault}
          </button>
          <button type="button" className="link" onClick={() => (setSpec(""), setProblems([]))}>
            {t.clearSpec}
          </button>
        </div>
        <SpecEditor ref={editor} value={spec} onChange={setSpec} problems={problems} label={t.spec} />
        {problems.length > 0 && (
          <div className="error" role="alert" data-testid="spec-problems">
            <b>{t.specProblems}</b>
            <ul>
              {problems.map((p, i) => (
                <li key={i}>
                  <button
                    type="button"
                    className="link"
                    onClick={() => editor.current && placeCursor(editor.current, p.line, p.column)}
                  >
                    {describe(p, t)}
                  </button>
                </li>
              ))}
            </ul>
          </div>
        )}
        <button type="submit" disabled={preview.isPending}>
          {t.run}
        </button>
      </form>
      {problems.length === 0 && <ErrorBox error={preview.error} />}
      {preview.data?.records.map((r, i) => <PreviewResult key={i} r={r} />)}
    </section>
  );
}

function PreviewResult({ r }: { r: PreviewRecord }) {
  const { t } = useI18n();
  return (
    <div className="card" data-testid="preview-record" data-source-key={r.sourceKey}>
      <h2>
        <code>{r.sourceKey}</code> <span className={`badge action-${actionName(r.action)}`} data-testid="action">{actionName(r.action)}</span>{" "}
        {r.targetKey && <span className="muted">→ {r.targetKey}</span>}
      </h2>
      <p>
        {t.targetOperation}: <code>{r.targetOperation}</code>
      </p>
      {r.errors.length > 0 && (
        <div className="error">
          <b>{t.errors}</b>
          <ul>
            {r.errors.map((e, i) => (
              <li key={i}>
                {e.fieldPath && <code>{e.fieldPath}</code>} {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      {r.warnings.length > 0 && (
        <div className="warn">
          <b>{t.warnings}</b>
          <ul>
            {r.warnings.map((e, i) => (
              <li key={i}>
                {e.fieldPath && <code>{e.fieldPath}</code>} {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <h3>{t.diff}</h3>
      {r.diff.length === 0 ? (
        <p className="muted">{t.noDiff}</p>
      ) : (
        <table className="grid" data-testid="diff">
          <thead>
            <tr>
              <th>{t.field}</th>
              <th>{t.oldValue}</th>
              <th>{t.newValue}</th>
            </tr>
          </thead>
          <tbody>
            {r.diff.map((d) => (
              <tr key={d.field} data-field={d.field}>
                <td>
                  <code>{d.field}</code>
                </td>
                <td className="old">{d.oldValue}</td>
                <td className="new">{d.newValue}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="bodies">
        <div>
          <h3>{t.requestBody}</h3>
          <Json text={r.requestBody} label={t.requestBody} />
        </div>
        <div>
          <h3>{t.callOptions}</h3>
          <Json text={r.callOptions ? JSON.stringify(r.callOptions) : ""} />
          <h3>{t.source}</h3>
          <Json text={r.source ? JSON.stringify(r.source) : ""} />
        </div>
      </div>
    </div>
  );
}
