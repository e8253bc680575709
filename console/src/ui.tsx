// Shared pieces of the pages: language context, enum names, badges, JSON blocks, pager controls.
import { createContext, useContext, useState, type ReactNode } from "react";
import { ConnectError } from "@connectrpc/connect";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Action, Flow, RunStatus, Trigger, type Run } from "./gen/syncgate/v1/syncgate_pb";
import { locale, messages, type Lang, type Messages } from "./i18n";
import { prettyJSON, formatTime } from "./format";
import { firstPage, nextPage, prevPage, type Pager } from "./pager";

/** Ctx is what every page reads: the texts and the locale. */
export interface Ctx {
  lang: Lang;
  t: Messages;
  loc: string;
}

export const I18n = createContext<Ctx>({ lang: "en", t: messages("en"), loc: locale("en") });

/** useI18n returns the interface texts and the locale. */
export function useI18n(): Ctx {
  return useContext(I18n);
}

/** flowName is the flow's short name as the CLI and the engine say it. */
export function flowName(f: Flow): string {
  return f === Flow.CUSTOMERS ? "customers" : f === Flow.AGENTS ? "agents" : "";
}

/** flowOf parses a short flow name. */
export function flowOf(name: string | null): Flow {
  return name === "agents" ? Flow.AGENTS : name === "customers" ? Flow.CUSTOMERS : Flow.UNSPECIFIED;
}

export function statusName(s: RunStatus): string {
  return RunStatus[s] ?? String(s);
}

export function actionName(a: Action): string {
  return a === Action.UNSPECIFIED ? "" : (Action[a] ?? String(a)).toLowerCase();
}

export function triggerName(tr: Trigger): string {
  return tr === Trigger.UNSPECIFIED ? "" : (Trigger[tr] ?? String(tr)).toLowerCase();
}

/** date converts a protobuf timestamp. */
export function date(ts: Timestamp | undefined): Date | undefined {
  return ts ? timestampDate(ts) : undefined;
}

export function Time({ ts }: { ts: Timestamp | undefined }) {
  const { loc } = useI18n();
  const d = date(ts);
  return d ? <time dateTime={d.toISOString()}>{formatTime(d, loc)}</time> : <span className="muted">–</span>;
}

export function StatusBadge({ status }: { status: RunStatus }) {
  const name = statusName(status);
  return <span className={`badge status-${name.toLowerCase()}`} data-status={name}>{name}</span>;
}

export function FlowSelect({ value, onChange, any }: { value: Flow; onChange: (f: Flow) => void; any?: boolean }) {
  const { t } = useI18n();
  return (
    <select aria-label={t.flow} value={value} onChange={(e) => onChange(Number(e.target.value) as Flow)} name="flow">
      {any && <option value={Flow.UNSPECIFIED}>{t.allFlows}</option>}
      <option value={Flow.CUSTOMERS}>{t.customers}</option>
      <option value={Flow.AGENTS}>{t.agents}</option>
    </select>
  );
}

/** Json shows a body as indented JSON (Chinese as characters), or as it is when it is not JSON. */
export function Json({ text, label }: { text: string; label?: string }) {
  if (text === "") return <span className="muted">–</span>;
  return (
    <pre className="json" aria-label={label}>
      {prettyJSON(text)}
    </pre>
  );
}

/** Expand shows its children after a click. */
export function Expand({ children, label }: { children: ReactNode; label?: string }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="link" onClick={() => setOpen(!open)}>
        {open ? t.hide : (label ?? t.show)}
      </button>
      {open && <div className="expanded">{children}</div>}
    </>
  );
}

/** ErrorBox shows a call's error: its code and the gateway's message. */
export function ErrorBox({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const ce = ConnectError.from(error);
  return (
    <div className="error" role="alert">
      {t.error}: {ce.rawMessage} <span className="muted">({codeName(ce)})</span>
    </div>
  );
}

function codeName(ce: ConnectError): string {
  const names: Record<number, string> = {
    1: "canceled", 2: "unknown", 3: "invalid_argument", 4: "deadline_exceeded", 5: "not_found", 6: "already_exists",
    7: "permission_denied", 8: "resource_exhausted", 9: "failed_precondition", 10: "aborted", 11: "out_of_range",
    12: "unimplemented", 13: "internal", 14: "unavailable", 15: "data_loss", 16: "unauthenticated",
  };
  return names[ce.code] ?? String(ce.code);
}

/** PagerBar moves through server pages: first, previous, next. */
export function PagerBar({ pager, next, onChange }: { pager: Pager; next: string; onChange: (p: Pager) => void }) {
  const { t } = useI18n();
  return (
    <div className="pager">
      <button type="button" disabled={pager.index === 0} onClick={() => onChange(firstPage)}>
        {t.first}
      </button>
      <button type="button" disabled={pager.index === 0} onClick={() => onChange(prevPage(pager))}>
        {t.prev}
      </button>
      <span className="muted">
        {t.page} {pager.index + 1}
      </span>
      <button
        type="button"
        disabled={next === ""}
        onClick={() => onChange(nextPage(pager, next))}
      >
        {t.next}
      </button>
    </div>
  );
}

/** CountsLine shows a run's counts. */
export function CountsLine({ run }: { run: Run }) {
  const { t, loc } = useI18n();
  const c = run.counts;
  const n = (v: bigint | undefined) => Number(v ?? 0n).toLocaleString(loc);
  return (
    <span className="counts" data-testid="counts">
      {t.read} <b>{n(c?.read)}</b> · {t.added} <b>{n(c?.added)}</b> · {t.updated} <b>{n(c?.updated)}</b> · {t.skipped}{" "}
      <b>{n(c?.skipped)}</b> · {t.failed} <b>{n(c?.failed)}</b>
    </span>
  );
}
