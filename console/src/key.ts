// The API key: entered once on the sign-in screen and kept in sessionStorage only (gone when the
// browser tab closes), never in localStorage, a cookie or a URL.

/** The storage key the API key is kept under in sessionStorage. */
export const KEY_ITEM = "syncgate.apiKey";

/** KeyStore keeps the API key for the browser session. */
export interface KeyStore {
  get(): string;
  set(key: string): void;
  clear(): void;
}

/** sessionKeyStore keeps the key in the given Storage (the page's sessionStorage). */
export function sessionKeyStore(storage: Pick<Storage, "getItem" | "setItem" | "removeItem">): KeyStore {
  return {
    get: () => storage.getItem(KEY_ITEM) ?? "",
    set: (key: string) => {
      const k = key.trim();
      if (k === "") storage.removeItem(KEY_ITEM);
      else storage.setItem(KEY_ITEM, k);
    },
    clear: () => storage.removeItem(KEY_ITEM),
  };
}

/** authHeader is the Authorization header value for a key ("" when there is none). */
export function authHeader(key: string): string {
  return key === "" ? "" : `Bearer ${key}`;
}
