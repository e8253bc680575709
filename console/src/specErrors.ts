// Placing a spec's validation problems on the YAML the person is editing.
import { ConnectError } from "@connectrpc/connect";
import { SpecProblemsSchema } from "./gen/syncgate/v1/syncgate_pb";

/** Problem is one spec problem, placed on a 1-based line and column (0: unknown). */
export interface Problem {
  line: number;
  column: number;
  section: string;
  field: string;
  message: string;
}

/**
 * specProblems reads the problems of a Preview refused for its spec: the SpecProblems error detail
 * the gateway attaches. An error without that detail yields none.
 */
export function specProblems(err: unknown): Problem[] {
  if (!(err instanceof ConnectError)) return [];
  const out: Problem[] = [];
  for (const d of err.findDetails(SpecProblemsSchema)) {
    for (const p of d.problems) {
      out.push({ line: p.line, column: p.column, section: p.section, field: p.field, message: p.message });
    }
  }
  return out;
}

/**
 * offsetOf is the string index of a 1-based line and column (in characters, as the gateway counts
 * them) in text: where to put the editor's cursor. Column 0 is the start of the line; positions past
 * the end are clamped to it.
 */
export function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  let end = text.indexOf("\n", offset);
  if (end < 0) end = text.length;
  let i = offset;
  for (let c = 1; c < column && i < end; c++) {
    const cp = text.codePointAt(i) ?? 0;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

/** problemsByLine groups problems by the line they are placed on (unplaced ones under 0). */
export function problemsByLine(problems: Problem[]): Map<number, Problem[]> {
  const m = new Map<number, Problem[]>();
  for (const p of problems) {
    const list = m.get(p.line) ?? [];
    list.push(p);
    m.set(p.line, list);
  }
  return m;
}

/** describe renders a problem as "line 3, column 7: target field "FName": message". */
export function describe(p: Problem, words: { line: string; column: string }): string {
  const where: string[] = [];
  if (p.line > 0) where.push(`${words.line} ${p.line}`);
  if (p.column > 0) where.push(`${words.column} ${p.column}`);
  const field = p.field !== "" ? `${p.section} field "${p.field}": ` : "";
  return `${where.length > 0 ? where.join(", ") + ": " : ""}${field}${p.message}`;
}
