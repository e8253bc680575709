// The Connect transport: same-origin calls to the gateway's syncgate.v1 API, with the API key from the
// session sent as Authorization: Bearer by an interceptor. An Unauthenticated answer signs out.
import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { authHeader, type KeyStore } from "./key";

/** authInterceptor adds the session's key to every call and reports a rejected key. */
export function authInterceptor(keys: KeyStore, onUnauthenticated: () => void): Interceptor {
  return (next) => async (req) => {
    const h = authHeader(keys.get());
    if (h !== "") req.header.set("Authorization", h);
    try {
      const res = await next(req);
      if (!res.stream) return res;
      // A stream (WatchRun) may be refused after its headers: watch its messages too.
      return { ...res, message: guard(res.message, onUnauthenticated) } as typeof res;
    } catch (err) {
      if (isUnauthenticated(err)) onUnauthenticated();
      throw err;
    }
  };
}

async function* guard<T>(messages: AsyncIterable<T>, onUnauthenticated: () => void): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    if (isUnauthenticated(err)) onUnauthenticated();
    throw err;
  }
}

/** isUnauthenticated reports whether err is the gateway refusing the key. */
export function isUnauthenticated(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.Unauthenticated;
}

/** makeTransport is the console's transport to the gateway that served the page. */
export function makeTransport(baseUrl: string, keys: KeyStore, onUnauthenticated: () => void): Transport {
  return createConnectTransport({ baseUrl, interceptors: [authInterceptor(keys, onUnauthenticated)] });
}
