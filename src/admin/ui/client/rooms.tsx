/** Rooms: active rooms and their counts; a room's connections with sub and claims; send, broadcast, disconnect. */
import { useEffect, useState } from "hono/jsx/dom";
import { api } from "./api.ts";
import { ConfirmDialog, ErrorNote, type PendingConfirm } from "./components.tsx";
import { dateTime, number } from "./format.ts";
import type { ConnectionInfo, RoomEntry } from "./types.ts";

const REFRESH_MS = 2_000;

/** A message typed in the console: JSON when it parses, otherwise the text as a string. */
function dataOf(text: string): unknown {
  try { return JSON.parse(text); } catch { return text; }
}

export function RoomsPage() {
  const [rooms, setRooms] = useState<RoomEntry[] | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const refresh = () => api<{ rooms: RoomEntry[] }>("/rooms?limit=100").then((body) => { setRooms(body.rooms); setError(null); }, setError);
    void refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  return (
    <>
      <ErrorNote error={error} />
      <section class="panel" aria-labelledby="rooms-title">
        <h2 id="rooms-title">Active rooms</h2>
        <table>
          <thead><tr><th scope="col">Room</th><th scope="col">Connections</th><th scope="col">Last change</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {rooms && rooms.length === 0 ? <tr><td colSpan={4}>No room has connections.</td></tr> : null}
            {(rooms ?? []).map((r) => (
              <tr key={r.room} aria-selected={r.room === selected ? "true" : undefined}>
                <th scope="row" class="mono">{r.room}</th>
                <td>{number(r.connections)}{r.live ? "" : " (room not answering: last reported)"}</td>
                <td>{dateTime(r.updatedAt)}</td>
                <td><button type="button" onClick={() => setSelected(r.room)} aria-label={`Open room ${r.room}`}>Open</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {selected ? <RoomDetail room={selected} /> : null}
    </>
  );
}

function RoomDetail({ room }: { room: string }) {
  const [connections, setConnections] = useState<ConnectionInfo[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState("");
  const [pending, setPending] = useState<PendingConfirm | null>(null);
  const base = `/rooms/${encodeURIComponent(room)}`;
  const refresh = () => api<{ connections: ConnectionInfo[] }>(`${base}/connections`).then((body) => { setConnections(body.connections); }, setError);
  useEffect(() => {
    setConnections(null); setMessage("");
    void refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return () => clearInterval(timer);
  }, [room]);

  const run = async (call: () => Promise<string>) => {
    try { setMessage(await call()); setError(null); await refresh(); } catch (err) { setError(err); }
  };
  const broadcast = (event: Event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const text = String(new FormData(form).get("data") ?? "");
    void run(async () => {
      const { delivered } = await api<{ delivered: number }>(`${base}/broadcast`, { method: "POST", body: { data: dataOf(text) } });
      form.reset();
      return `Broadcast delivered to ${delivered} connection${delivered === 1 ? "" : "s"}.`;
    });
  };
  return (
    <section class="panel" aria-labelledby="room-title">
      <h2 id="room-title">Room <span class="mono">{room}</span></h2>
      <ErrorNote error={error} />
      <p role="status" class="muted">{message}</p>
      <form class="inline" onSubmit={broadcast}>
        <label for="broadcast-data">Broadcast to everyone</label>
        <input id="broadcast-data" name="data" required aria-describedby="data-help" />
        <button type="submit">Broadcast</button>
      </form>
      <p id="data-help" class="muted">Messages are sent as JSON when they parse as JSON, otherwise as text.</p>
      <table>
        <caption>Connections</caption>
        <thead><tr><th scope="col">Connection</th><th scope="col">Subject</th><th scope="col">Claims</th><th scope="col">Joined</th><th scope="col">Last seen</th><th scope="col">Send a message</th><th scope="col"><span class="sr-only">Disconnect</span></th></tr></thead>
        <tbody>
          {connections && connections.length === 0 ? <tr><td colSpan={7}>No connections.</td></tr> : null}
          {(connections ?? []).map((c) => (
            <tr key={c.id}>
              <th scope="row" class="mono">{c.id}</th>
              <td>{c.sub ?? <span class="muted">none</span>}</td>
              <td class="mono">{Object.keys(c.claims).length ? JSON.stringify(c.claims) : "—"}</td>
              <td>{dateTime(c.joinedAt)}</td>
              <td>{dateTime(c.lastSeenAt)}</td>
              <td>
                <form class="inline" onSubmit={(e: Event) => {
                  e.preventDefault();
                  const form = e.target as HTMLFormElement;
                  const text = String(new FormData(form).get("data") ?? "");
                  void run(async () => { await api(`${base}/connections/${c.id}/messages`, { method: "POST", body: { data: dataOf(text) } }); form.reset(); return `Message sent to ${c.id}.`; });
                }}>
                  <label class="sr-only" for={`send-${c.id}`}>Message to {c.id}</label>
                  <input id={`send-${c.id}`} name="data" required />
                  <button type="submit">Send</button>
                </form>
              </td>
              <td>
                <button type="button" class="danger" aria-label={`Disconnect ${c.id}`} onClick={() => setPending({
                  title: `Disconnect ${c.id}?`, body: "The connection is closed with code 1000; the client may reconnect.", confirm: "Disconnect",
                  run: () => run(async () => { await api(`${base}/connections/${c.id}`, { method: "DELETE" }); return `Disconnected ${c.id}.`; }),
                })}>Disconnect…</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ConfirmDialog pending={pending} onClose={() => setPending(null)} />
    </section>
  );
}
