import { useCallback, useEffect, useMemo, useState } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { TransportProvider } from "@connectrpc/connect-query";
import { sessionKeyStore } from "./key";
import { makeTransport } from "./transport";
import { LANG_ITEM, locale, messages, pickLanguage, type Lang } from "./i18n";
import { parseHash, type Route } from "./router";
import { I18n, useI18n } from "./ui";
import { Overview } from "./pages/Overview";
import { Runs } from "./pages/Runs";
import { RunDetail } from "./pages/RunDetail";
import { RecordPage } from "./pages/Record";
import { DeadLetters } from "./pages/DeadLetters";
import { Preview } from "./pages/Preview";

const keys = sessionKeyStore(window.sessionStorage);

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function App() {
  const [lang, setLang] = useState<Lang>(() => pickLanguage(navigator.languages ?? [navigator.language], window.localStorage.getItem(LANG_ITEM)));
  const [signedIn, setSignedIn] = useState(() => keys.get() !== "");
  const [rejected, setRejected] = useState(false);
  const route = useRoute();

  const signOut = useCallback((wasRejected: boolean) => {
    keys.clear();
    setRejected(wasRejected);
    setSignedIn(false);
  }, []);
  const transport = useMemo(() => makeTransport(window.location.origin, keys, () => signOut(true)), [signOut]);
  const queryClient = useMemo(
    () => new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } } }),
    [],
  );
  useEffect(() => {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  }, [lang]);
  const ctx = useMemo(() => ({ lang, t: messages(lang), loc: locale(lang) }), [lang]);
  const t = ctx.t;
  const switchLang = () => {
    const next: Lang = lang === "zh" ? "en" : "zh";
    window.localStorage.setItem(LANG_ITEM, next);
    setLang(next);
  };

  if (!signedIn) {
    return (
      <I18n.Provider value={ctx}>
        <SignIn
          rejected={rejected}
          onSignIn={(k) => {
            keys.set(k);
            queryClient.clear();
            setRejected(false);
            setSignedIn(keys.get() !== "");
          }}
          onLang={switchLang}
        />
      </I18n.Provider>
    );
  }

  const nav: [Route["page"], string, string][] = [
    ["overview", "#/", t.overview],
    ["runs", "#/runs", t.runs],
    ["record", "#/record", t.record],
    ["dead-letters", "#/dead-letters", t.deadLetters],
    ["preview", "#/preview", t.preview],
  ];
  const current = route.page === "run" ? "runs" : route.page;
  return (
    <I18n.Provider value={ctx}>
      <TransportProvider transport={transport}>
        <QueryClientProvider client={queryClient}>
          <header>
            <strong>{t.appName}</strong>
            <nav>
              {nav.map(([page, link, label]) => (
                <a key={page} href={link} className={current === page ? "active" : ""}>
                  {label}
                </a>
              ))}
            </nav>
            <span className="spacer" />
            <button type="button" className="link" onClick={switchLang} data-testid="lang">
              {t.language}
            </button>
            <button type="button" className="link" onClick={() => signOut(false)}>
              {t.signOut}
            </button>
          </header>
          <main>
            {route.page === "overview" && <Overview />}
            {route.page === "runs" && <Runs />}
            {route.page === "run" && <RunDetail id={route.id} />}
            {route.page === "record" && <RecordPage params={route.params} />}
            {route.page === "dead-letters" && <DeadLetters params={route.params} />}
            {route.page === "preview" && <Preview />}
          </main>
        </QueryClientProvider>
      </TransportProvider>
    </I18n.Provider>
  );
}

function SignIn({ rejected, onSignIn, onLang }: { rejected: boolean; onSignIn: (key: string) => void; onLang: () => void }) {
  const [key, setKey] = useState("");
  const { t } = useI18n();
  return (
    <form
      className="signin"
      onSubmit={(e) => {
        e.preventDefault();
        onSignIn(key);
      }}
    >
      <h1>{t.appName}</h1>
      {rejected && (
        <div className="error" role="alert">
          {t.keyRejected}
        </div>
      )}
      <label>
        {t.apiKey}
        <input type="password" name="apiKey" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} autoFocus />
      </label>
      <p className="muted">{t.keyHint}</p>
      <div className="row">
        <button type="submit" disabled={key.trim() === ""}>
          {t.signIn}
        </button>
        <button type="button" className="link" onClick={onLang}>
          {t.language}
        </button>
      </div>
    </form>
  );
}
