import { describe, expect, it } from "vitest";
import { firstPage, nextPage, prevPage, token } from "./pager";
import { href, parseHash } from "./router";

describe("paging by page tokens", () => {
  it("moves forward with the server's tokens and back through the remembered ones", () => {
    let p = firstPage;
    expect(token(p)).toBe("");
    p = nextPage(p, "t1");
    p = nextPage(p, "t2");
    expect(token(p)).toBe("t2");
    expect(p.index).toBe(2);
    p = prevPage(p);
    expect(token(p)).toBe("t1");
    p = nextPage(p, "t2b"); // a new branch forgets the old pages after this one
    expect(p.tokens).toEqual(["", "t1", "t2b"]);
    expect(prevPage(prevPage(prevPage(p)))).toEqual({ tokens: ["", "t1", "t2b"], index: 0 });
  });

  it("stays at the last page when there is no next token", () => {
    const p = nextPage(firstPage, "t1");
    expect(nextPage(p, "")).toBe(p);
  });
});

describe("hash routes", () => {
  it("parses and builds the console's routes", () => {
    expect(parseHash("").page).toBe("overview");
    expect(parseHash("#/runs").page).toBe("runs");
    const r = parseHash(href("runs", "a/b c"));
    expect(r).toMatchObject({ page: "run", id: "a/b c" });
    const rec = parseHash(href("record", "", { flow: "agents", key: "AG 1" }));
    expect(rec.page).toBe("record");
    expect(rec.params.get("key")).toBe("AG 1");
    expect(parseHash("#/nowhere").page).toBe("overview");
  });
});
