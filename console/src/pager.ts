// Server-side paging with page tokens: the console never loads a whole table. A Pager remembers the
// tokens of the pages visited so that it can go back.

/** Pager is the page-token position in a list. tokens[i] is the token that fetches page i. */
export interface Pager {
  tokens: string[];
  index: number;
}

/** firstPage is a pager on the first page. */
export const firstPage: Pager = { tokens: [""], index: 0 };

/** token is the page token to request for the current page. */
export function token(p: Pager): string {
  return p.tokens[p.index] ?? "";
}

/** nextPage moves on to the page the server's next_page_token names (no move when it is empty). */
export function nextPage(p: Pager, next: string): Pager {
  if (next === "") return p;
  const tokens = p.tokens.slice(0, p.index + 1);
  tokens.push(next);
  return { tokens, index: p.index + 1 };
}

/** prevPage moves back one page (no move on the first). */
export function prevPage(p: Pager): Pager {
  return p.index === 0 ? p : { tokens: p.tokens, index: p.index - 1 };
}
