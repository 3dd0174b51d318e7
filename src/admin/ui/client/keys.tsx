/**
 * Keys: create (the key shown once, with a copy button), search by owner or name, page through,
 * and per key: usage bars, plan and scopes, disable/enable, rotate, revoke and usage reset (the
 * final or disruptive ones after a confirmation).
 */
import { useEffect, useRef, useState } from "hono/jsx/dom";
import { api, queryString } from "./api.ts";
import { ConfirmDialog, ErrorNote, UsageBars, type PendingConfirm } from "./components.tsx";
import { dateTime } from "./format.ts";
import type { KeyPage, KeyView, Plan, Usage } from "./types.ts";

const PAGE_SIZE = 20;
const USAGE_REFRESH_MS = 2_000;

const scopesFrom = (text: string): string[] => text.split(/[\s,]+/).filter(Boolean);

export function KeysPage() {
  const [plans, setPlans] = useState<Plan[]>([]);
  const [page, setPage] = useState<KeyPage | null>(null);
  const [search, setSearch] = useState("");
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [selected, setSelected] = useState<string | null>(null);
  const [fresh, setFresh] = useState<KeyView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState<PendingConfirm | null>(null);

  const load = async (cursor: string | null = cursors[cursors.length - 1] ?? null, term = search) => {
    try {
      setPage(await api<KeyPage>(`/keys${queryString({ limit: PAGE_SIZE, cursor, search: term })}`));
      setError(null);
    } catch (err) { setError(err); }
  };

  useEffect(() => {
    api<{ plans: Plan[] }>("/plans").then((body) => setPlans(body.plans), setError);
    void load(null, "");
  }, []);

  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    try {
      const key = await api<KeyView>("/keys", { method: "POST", body: {
        name: String(data.get("name") ?? ""), owner: String(data.get("owner") ?? ""), plan: String(data.get("plan") ?? ""),
        scopes: scopesFrom(String(data.get("scopes") ?? "")),
      } });
      form.reset();
      setFresh(key);
      setSelected(key.id);
      setError(null);
      await load();
    } catch (err) { setError(err); }
  };

  const find = async (event: Event) => {
    event.preventDefault();
    const term = String(new FormData(event.target as HTMLFormElement).get("search") ?? "").trim();
    setSearch(term);
    setCursors([null]);
    await load(null, term);
  };

  return (
    <>
      <ErrorNote error={error} />
      <section aria-labelledby="create-title" class="panel">
        <h2 id="create-title">Create a key</h2>
        <form onSubmit={create} class="grid">
          <label for="key-name">Name</label><input id="key-name" name="name" required maxLength={200} />
          <label for="key-owner">Owner</label><input id="key-owner" name="owner" required maxLength={200} />
          <label for="key-plan">Plan</label>
          <select id="key-plan" name="plan" required>{plans.map((p) => <option value={p.name}>{p.name}</option>)}</select>
          <label for="key-scopes">Scopes</label><input id="key-scopes" name="scopes" aria-describedby="key-scopes-help" />
          <span id="key-scopes-help" class="muted span2">Separated by spaces, e.g. orders:read orders:write. Optional.</span>
          <button type="submit" class="span2">Create key</button>
        </form>
      </section>

      {/* Conditional parts sit in stable wrappers: hono/jsx/dom places a child that appears or goes by
          its index among siblings, and with two conditionals side by side it drew the key panel twice. */}
      <div class="slot">{fresh?.key ? <NewKey view={fresh} onDone={() => setFresh(null)} /> : null}</div>

      <section aria-labelledby="list-title" class="panel">
        <h2 id="list-title">Keys</h2>
        <form onSubmit={find} role="search" class="inline">
          <label for="key-search">Search by owner or name</label>
          <input id="key-search" name="search" type="search" value={search} />
          <button type="submit">Search</button>
        </form>
        <table>
          <caption class="sr-only">Keys{search ? ` matching "${search}"` : ""}</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Plan</th><th scope="col">Scopes</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {page && page.keys.length === 0 ? <tr><td colSpan={7}>No keys{search ? ` match "${search}"` : " yet"}.</td></tr> : null}
            {(page?.keys ?? []).map((k) => (
              <tr key={k.id} aria-selected={k.id === selected ? "true" : undefined}>
                <th scope="row">{k.name}<div class="muted mono">{k.id}</div></th>
                <td>{k.owner}</td><td>{k.plan}</td><td class="mono">{k.scopes.join(" ") || "—"}</td>
                <td><span class={`status ${k.status}`}>{k.status}</span></td><td>{dateTime(k.createdAt)}</td>
                <td><button type="button" onClick={() => setSelected(k.id)} aria-label={`Manage ${k.name} (${k.id})`}>Manage</button></td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="pager">
          <button type="button" disabled={cursors.length <= 1} onClick={async () => { const back = cursors.slice(0, -1); setCursors(back); await load(back[back.length - 1] ?? null); }}>Previous page</button>
          <span class="muted">Page {cursors.length}</span>
          <button type="button" disabled={!page?.nextCursor} onClick={async () => { const next = [...cursors, page!.nextCursor]; setCursors(next); await load(page!.nextCursor); }}>Next page</button>
        </div>
      </section>

      <div class="slot">{selected ? <KeyDetail key={selected} id={selected} plans={plans} confirm={setPending} onChanged={() => load()} onRotated={setFresh} /> : null}</div>
      <ConfirmDialog pending={pending} onClose={() => setPending(null)} />
    </>
  );
}

/** The key of a create or rotate answer: shown here once, never again. */
function NewKey({ view, onDone }: { view: KeyView; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(view.key!);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied("The browser did not allow copying: select the key and copy it yourself.");
    }
  };
  return (
    <section class="panel newkey" aria-labelledby="newkey-title" role="region">
      <h2 id="newkey-title">Store this key now</h2>
      <p><strong>This is the only time the key is shown.</strong> The gateway keeps only its hash and cannot show it again; if it is lost, rotate the key.</p>
      <p><label for="new-key">Key for {view.name} ({view.id})</label></p>
      <div class="inline">
        <input id="new-key" class="mono wide" readOnly value={view.key} />
        <button type="button" onClick={copy}>Copy key</button>
      </div>
      <p role="status" class="muted">{copied ?? ""}</p>
      <button type="button" onClick={onDone}>I have stored it</button>
    </section>
  );
}

function KeyDetail({ id, plans, confirm, onChanged, onRotated }: { id: string; plans: Plan[]; confirm: (p: PendingConfirm) => void; onChanged: () => void; onRotated: (k: KeyView) => void }) {
  const [key, setKey] = useState<KeyView | null>(null);
  const [usage, setUsage] = useState<Usage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState("");
  const busy = useRef(false);
  const again = useRef(false);

  const refresh = async (): Promise<void> => {
    // One read at a time, so a slow answer never lands after a newer one; a refresh asked for
    // meanwhile runs once the current one is done.
    if (busy.current) { again.current = true; return; }
    busy.current = true;
    try {
      const view = await api<KeyView>(`/keys/${id}`);
      setKey(view);
      setUsage(view.status === "revoked" ? null : await api<Usage>(`/keys/${id}/usage`));
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      busy.current = false;
    }
    if (again.current) { again.current = false; await refresh(); }
  };
  useEffect(() => {
    setKey(null); setUsage(null); setMessage("");
    void refresh();
    const timer = setInterval(refresh, USAGE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [id]);

  const act = async (path: string, done: string, method = "POST", body?: unknown) => {
    try {
      const answer = await api<KeyView | Usage>(`/keys/${id}${path}`, { method, body });
      if ("key" in answer && answer.key) onRotated(answer);
      // The answer is the key as changed (or the usage after a reset): shown at once.
      if ("id" in answer) setKey({ ...answer, key: undefined });
      else if ("keyId" in answer) setUsage(answer);
      setMessage(done);
      setError(null);
      await refresh();
      onChanged();
    } catch (err) { setError(err); }
  };

  // One root element whatever the state: the page swaps what is inside it, never the section itself,
  // and each part that comes and goes has a stable wrapper (see KeysPage: hono/jsx/dom places a
  // child that appears by its index among siblings, and drew the actions twice in a clean-clone run).
  const revoked = key?.status === "revoked";
  return (
    <section class="panel" aria-labelledby="detail-title">
      <h2 id="detail-title">{key ? <>{key.name} <span class="muted mono">{key.id}</span></> : "Loading key…"}</h2>
      <ErrorNote error={error} />
      <p role="status" class="muted">{message}</p>
      <div class="slot">{key ? (
        <dl class="facts">
          <dt>Owner</dt><dd>{key.owner}</dd>
          <dt>Status</dt><dd><span class={`status ${key.status}`}>{key.status}</span></dd>
          <dt>Created</dt><dd>{dateTime(key.createdAt)}</dd>
          <dt>Expires</dt><dd>{dateTime(key.expiresAt)}</dd>
        </dl>
      ) : null}</div>
      <div class="slot">{usage ? <UsageBars usage={usage} /> : null}</div>
      <div class="slot">{!key ? null : revoked ? <p>This key is revoked: it can no longer be used or changed.</p> : (
        <>
          <div class="actions">
            {key.status === "active"
              ? <button type="button" onClick={() => act("/disable", "Disabled: calls with this key are refused until it is enabled.")}>Disable</button>
              : <button type="button" onClick={() => act("/enable", "Enabled.")}>Enable</button>}
            <button type="button" onClick={() => confirm({ title: `Rotate ${key.name}?`, body: "A new key replaces the current one at once; calls with the current key fail from now on.", confirm: "Rotate key", run: () => act("/rotate", "Rotated: store the new key shown above.") })}>Rotate…</button>
            <button type="button" onClick={() => confirm({ title: `Reset the usage of ${key.name}?`, body: "Its quota used this period goes back to 0 and its rate bucket is refilled. The reset is logged.", confirm: "Reset usage", run: () => act("/usage/reset", "Usage reset.") })}>Reset usage…</button>
            <button type="button" class="danger" onClick={() => confirm({ title: `Revoke ${key.name}?`, body: "Revoking is final: the key stops working for good and cannot be enabled again.", confirm: "Revoke key", run: () => act("/revoke", "Revoked.") })}>Revoke…</button>
          </div>
          <form class="inline" onSubmit={(e: Event) => { e.preventDefault(); void act("", "Plan changed.", "PATCH", { plan: String(new FormData(e.target as HTMLFormElement).get("plan")) }); }}>
            <label for="detail-plan">New plan</label>
            <select id="detail-plan" name="plan">{plans.map((p) => <option value={p.name} selected={p.name === key.plan}>{p.name}</option>)}</select>
            <button type="submit">Change plan</button>
          </form>
          <form class="inline" onSubmit={(e: Event) => { e.preventDefault(); void act("", "Scopes saved.", "PATCH", { scopes: scopesFrom(String(new FormData(e.target as HTMLFormElement).get("scopes") ?? "")) }); }}>
            <label for="detail-scopes">Scopes of this key</label>
            <input id="detail-scopes" name="scopes" value={key.scopes.join(" ")} />
            <button type="submit">Save scopes</button>
          </form>
        </>
      )}</div>
    </section>
  );
}
