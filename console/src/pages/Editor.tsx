import { forwardRef, useRef, type UIEvent } from "react";
import { offsetOf, problemsByLine, describe, type Problem } from "../specErrors";
import { useI18n } from "../ui";

/**
 * SpecEditor is a plain textarea with a line-number gutter; lines with a spec problem are marked in
 * the gutter (the problem's text as its title) and listed under the editor.
 */
export const SpecEditor = forwardRef<HTMLTextAreaElement, { value: string; onChange: (v: string) => void; problems: Problem[]; label: string }>(
  function SpecEditor({ value, onChange, problems, label }, ref) {
    const { t } = useI18n();
    const gutter = useRef<HTMLDivElement>(null);
    const byLine = problemsByLine(problems);
    const lines = Math.max(1, value.split("\n").length);
    const onScroll = (e: UIEvent<HTMLTextAreaElement>) => {
      if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
    };
    return (
      <div className="editor">
        <div className="gutter" ref={gutter} aria-hidden="true">
          {Array.from({ length: lines }, (_, i) => {
            const ps = byLine.get(i + 1);
            return (
              <div key={i} className={ps ? "line bad" : "line"} data-line={i + 1} title={ps?.map((p) => describe(p, t)).join("\n")}>
                {i + 1}
              </div>
            );
          })}
        </div>
        <textarea ref={ref} aria-label={label} name="spec" spellCheck={false} wrap="off" value={value} onChange={(e) => onChange(e.target.value)} onScroll={onScroll} />
      </div>
    );
  },
);

/** placeCursor puts the editor's cursor on a problem's line and column and scrolls that line into view. */
export function placeCursor(ta: HTMLTextAreaElement, line: number, column: number) {
  const at = offsetOf(ta.value, line, column);
  ta.focus();
  ta.setSelectionRange(at, at);
  const lh = parseFloat(getComputedStyle(ta).lineHeight) || 20;
  ta.scrollTop = Math.max(0, (line - 1) * lh - ta.clientHeight / 3);
}
