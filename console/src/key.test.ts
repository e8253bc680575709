import { describe, expect, it } from "vitest";
import { KEY_ITEM, authHeader, sessionKeyStore } from "./key";
import { authInterceptor, isUnauthenticated } from "./transport";
import { Code, ConnectError } from "@connectrpc/connect";

/** memoryStorage stands in for sessionStorage. */
function memoryStorage() {
  const m = new Map<string, string>();
  return {
    m,
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  };
}

describe("key storage", () => {
  it("keeps the trimmed key in the storage it is given, and clears it", () => {
    const s = memoryStorage();
    const keys = sessionKeyStore(s);
    expect(keys.get()).toBe("");
    keys.set("  demo-key \n");
    expect(s.m.get(KEY_ITEM)).toBe("demo-key");
    expect(keys.get()).toBe("demo-key");
    keys.clear();
    expect(s.m.size).toBe(0);
    keys.set("   ");
    expect(s.m.size).toBe(0);
  });

  it("renders the bearer header, none without a key", () => {
    expect(authHeader("k1")).toBe("Bearer k1");
    expect(authHeader("")).toBe("");
  });
});

describe("auth interceptor", () => {
  const call = async (key: string, fail?: Error) => {
    const s = memoryStorage();
    const keys = sessionKeyStore(s);
    keys.set(key);
    let signedOut = 0;
    let sent: Headers | undefined;
    const next = async (req: { header: Headers }) => {
      sent = req.header;
      if (fail) throw fail;
      return { ok: true };
    };
    const intercepted = authInterceptor(keys, () => signedOut++)(next as never);
    let err: unknown;
    try {
      await intercepted({ header: new Headers(), url: "http://127.0.0.1/syncgate.v1.SyncService/GetRun" } as never);
    } catch (e) {
      err = e;
    }
    return { sent, signedOut, err };
  };

  it("sends the session's key as Authorization: Bearer, never in the URL", async () => {
    const { sent, signedOut } = await call("s3cret");
    expect(sent?.get("Authorization")).toBe("Bearer s3cret");
    expect(signedOut).toBe(0);
  });

  it("sends no header without a key", async () => {
    const { sent } = await call("");
    expect(sent?.has("Authorization")).toBe(false);
  });

  it("signs out on Unauthenticated and passes the error on", async () => {
    const { signedOut, err } = await call("wrong", new ConnectError("bad key", Code.Unauthenticated));
    expect(signedOut).toBe(1);
    expect(isUnauthenticated(err)).toBe(true);
  });

  it("stays signed in on other errors", async () => {
    const { signedOut } = await call("k", new ConnectError("no such run", Code.NotFound));
    expect(signedOut).toBe(0);
  });

  it("signs out when a stream is refused after its headers", async () => {
    const keys = sessionKeyStore(memoryStorage());
    keys.set("k");
    let signedOut = 0;
    async function* refused() {
      yield { n: 1 };
      throw new ConnectError("bad key", Code.Unauthenticated);
    }
    const next = async () => ({ stream: true, message: refused() });
    const res = (await authInterceptor(keys, () => signedOut++)(next as never)({ header: new Headers() } as never)) as unknown as {
      message: AsyncIterable<unknown>;
    };
    const got: unknown[] = [];
    await expect(
      (async () => {
        for await (const m of res.message) got.push(m);
      })(),
    ).rejects.toThrow("bad key");
    expect(got).toEqual([{ n: 1 }]);
    expect(signedOut).toBe(1);
  });
});
