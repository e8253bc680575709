// Formatting shared by the pages: JSON bodies, times, durations and rates.

/**
 * prettyJSON indents a JSON text with two spaces. Escaped non-ASCII (\u4e0a…) comes out as the
 * characters themselves, so Chinese reads as Chinese. Text that is not JSON is returned as it is.
 */
export function prettyJSON(text: string): string {
  if (text.trim() === "") return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** isJSON reports whether text parses as JSON. */
export function isJSON(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** formatDuration renders milliseconds as 850 ms, 12.3 s, 4 m 05 s or 2 h 03 m. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} m`;
}

/** rate is records per second over ms milliseconds (0 when no time has passed). */
export function rate(records: number, ms: number): number {
  return ms > 0 ? (records * 1000) / ms : 0;
}

/** formatRate renders a rate as "1,234/s" (whole numbers from 10 on). */
export function formatRate(perSecond: number, locale: string): string {
  const digits = perSecond < 10 ? 1 : 0;
  return `${perSecond.toLocaleString(locale, { maximumFractionDigits: digits, minimumFractionDigits: digits })}/s`;
}

/** formatTime renders a date in the browser's time zone ("" for none). */
export function formatTime(d: Date | undefined, locale: string): string {
  if (!d) return "";
  return d.toLocaleString(locale, { hour12: false });
}

/** parseKeys splits a list of keys typed by hand: commas, spaces or new lines; no duplicates. */
export function parseKeys(text: string): string[] {
  const out: string[] = [];
  for (const k of text.split(/[\s,，]+/)) {
    if (k !== "" && !out.includes(k)) out.push(k);
  }
  return out;
}
