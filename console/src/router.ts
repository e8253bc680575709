// A tiny hash router: the page lives in the URL fragment (#/runs/ID), so the gateway only ever serves
// index.html and a reload keeps the page. The API key never goes into the URL.

/** Route is a parsed location. */
export interface Route {
  page: "overview" | "runs" | "run" | "record" | "dead-letters" | "preview";
  id: string;
  params: URLSearchParams;
}

/** parseHash reads a location hash such as "#/runs/abc?action=fail". Unknown paths are the overview. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const [path, query = ""] = raw.split("?", 2);
  const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
  const params = new URLSearchParams(query);
  switch (parts[0]) {
    case "runs":
      return parts[1] ? { page: "run", id: parts[1], params } : { page: "runs", id: "", params };
    case "record":
      return { page: "record", id: "", params };
    case "dead-letters":
      return { page: "dead-letters", id: "", params };
    case "preview":
      return { page: "preview", id: "", params };
    default:
      return { page: "overview", id: "", params };
  }
}

/** href builds a hash link: href("runs", id) = "#/runs/<id>"; params are appended as a query. */
export function href(page: string, id = "", params?: Record<string, string>): string {
  let h = `#/${page}`;
  if (id !== "") h += `/${encodeURIComponent(id)}`;
  const q = new URLSearchParams(params ?? {}).toString();
  return q === "" ? h : `${h}?${q}`;
}
