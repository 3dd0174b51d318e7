/** The console's frame: sign-in, the navigation, and the page the URL's hash names. */
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { api, ApiError, UNAUTHORIZED } from "./api.ts";
import { KeysPage } from "./keys.tsx";
import { OverviewPage } from "./overview.tsx";
import { RoomsPage } from "./rooms.tsx";
import { session } from "./session.ts";
import { TablePage } from "./table.tsx";
import { UpstreamsPage } from "./upstreams.tsx";

const PAGES = [
  { hash: "#/overview", title: "Overview" },
  { hash: "#/keys", title: "Keys" },
  { hash: "#/routes", title: "Plans and routes" },
  { hash: "#/upstreams", title: "Upstreams" },
  { hash: "#/rooms", title: "Rooms" },
] as const;
type PageHash = (typeof PAGES)[number]["hash"];

const pageOf = (hash: string): PageHash => (PAGES.find((p) => p.hash === hash)?.hash ?? "#/overview");

export function App() {
  const [signedIn, setSignedIn] = useState(session.token() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const [page, setPage] = useState<PageHash>(pageOf(location.hash));
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    const onHash = () => setPage(pageOf(location.hash));
    const onUnauthorized = () => {
      session.signOut();
      setNotice("The gateway no longer accepts this token. Sign in again.");
      setSignedIn(false);
    };
    window.addEventListener("hashchange", onHash);
    window.addEventListener(UNAUTHORIZED, onUnauthorized);
    return () => { window.removeEventListener("hashchange", onHash); window.removeEventListener(UNAUTHORIZED, onUnauthorized); };
  }, []);
  // Moving between pages moves focus to the new page's heading, for keyboard and screen reader users.
  useEffect(() => { heading.current?.focus(); }, [page]);

  if (!signedIn) return <SignIn notice={notice} onSignedIn={() => { setNotice(null); setSignedIn(true); }} />;
  const title = PAGES.find((p) => p.hash === page)!.title;
  return (
    <div class="frame">
      <header class="top">
        <span class="brand">Edge Gateway console</span>
        <nav aria-label="Console pages">
          <ul>
            {PAGES.map((p) => <li><a href={p.hash} aria-current={p.hash === page ? "page" : undefined}>{p.title}</a></li>)}
          </ul>
        </nav>
        <button type="button" onClick={() => { session.signOut(); setSignedIn(false); }}>Sign out</button>
      </header>
      <main>
        <h1 tabIndex={-1} ref={heading}>{title}</h1>
        {page === "#/overview" ? <OverviewPage /> : page === "#/keys" ? <KeysPage /> : page === "#/routes" ? <TablePage /> : page === "#/upstreams" ? <UpstreamsPage /> : <RoomsPage />}
      </main>
    </div>
  );
}

function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const token = String(new FormData(form).get("token") ?? "").trim();
    if (!token) { setError("Enter the admin token."); return; }
    setBusy(true);
    setError(null);
    try {
      // Any admin call proves the token; the plans list is small.
      await api("/plans", { token });
      session.signIn(token);
      form.reset();
      onSignedIn();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError("Sign-in failed: the gateway refused this admin token. Check the value of the secret named in admin.token.");
      else if (err instanceof ApiError && err.status === 404) setError("Sign-in failed: the admin API is off on this gateway (its token secret is not set).");
      else if (err instanceof ApiError) setError(`Sign-in failed: ${err.message} (${err.code}${err.requestId ? `, request id ${err.requestId}` : ""})`);
      else setError("Sign-in failed: the gateway could not be reached.");
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <h1>Edge Gateway console</h1>
      {notice ? <p class="notice" role="status">{notice}</p> : null}
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} required aria-invalid={error ? "true" : undefined} aria-describedby={error ? "signin-error" : undefined} />
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
      <p id="signin-help" class="muted">The token stays in this tab only (session storage) and is sent as the Authorization header on each call.</p>
      {error ? <div id="signin-error" class="error" role="alert">{error}</div> : null}
    </main>
  );
}

