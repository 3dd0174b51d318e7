/** The key and usage endpoints of the management API, end to end through the gateway app. */
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGateway } from "../../src/app.ts";
import { loadRouteTable } from "../../src/config/index.ts";
import { POLICIES } from "../../src/policies/index.ts";
import { errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const table = {
  plans: {
    free: { rate: { limit: 10, per: "1s", burst: 20 }, quota: { limit: 1000, per: "day" } },
    pro: { rate: { limit: 100, per: "1s" }, quota: { limit: 1000000, per: "month" } },
  },
  admin: { pathPrefix: "/_gateway", token: { env: "ADMIN_TOKEN" } },
  routes: [route("orders.any", "/v1/orders/*", { auth: { apiKey: true } })],
};
const call = gatewayFor(table);

type KeyView = { id: string; name: string; owner: string; plan: string; status: string; createdAt: string; updatedAt: string; expiresAt: string | null; key?: string };

async function admin(method: string, path: string, body?: unknown) {
  const response = await call(`/_gateway${path}`, { method, headers: ADMIN, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: JSON.parse(text) as Record<string, unknown> & KeyView };
}

const useKey = (key: string) => call("/v1/orders/1", { headers: { "x-api-key": key } }).then(async (r) => { await r.body?.cancel(); return r.status; });
const owner = () => `owner-${crypto.randomUUID()}`;

describe("the admin token", () => {
  it("is required: missing, malformed or wrong is 401 with WWW-Authenticate", async () => {
    for (const authorization of [undefined, "Bearer", "Basic dGVzdA==", "Bearer wrong-token", `Bearer ${env.ADMIN_TOKEN}x`, `Bearer ${env.ADMIN_TOKEN.slice(0, -1)}`]) {
      const response = await call("/_gateway/keys", { headers: authorization ? { authorization } : {} });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="gateway-admin"`);
      expect((await errorOf(response)).code).toBe("admin_unauthorized");
    }
  });

  it("refuses to create a key without it", async () => {
    const response = await call("/_gateway/keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "n", owner: "o", plan: "free" }) });
    expect(response.status).toBe(401);
  });

  it("turns the admin API off when the secret is unset, and says so once", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const app = createGateway(loadRouteTable({ ...table, origins: { echo: { url: env.ECHO_ORIGIN } } }), { policies: POLICIES });
      for (let i = 0; i < 2; i++) {
        const ctx = createExecutionContext();
        const response = await app.fetch(new Request("http://gateway.test/_gateway/keys", { headers: ADMIN }), { ...env, ADMIN_TOKEN: undefined }, ctx);
        await waitOnExecutionContext(ctx);
        expect(response.status).toBe(404);
      }
      expect(warn.mock.calls.map(([line]) => JSON.parse(String(line)).message)).toEqual(["ADMIN_TOKEN is not set: the admin API is off (its paths answer 404)"]);
    } finally {
      warn.mockRestore();
    }
  });
});

describe("the key lifecycle", () => {
  it("creates, reads, lists, re-plans, disables, enables, rotates and revokes a key", async () => {
    const who = owner();
    // Create: the key is in this response and nowhere else.
    const created = await admin("POST", "/keys", { name: "Checkout service", owner: who, plan: "free", expiresAt: "2099-01-01T00:00:00Z" });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    const { id, key } = created.json;
    expect(id).toMatch(/^key_[0-9a-f]{20}$/);
    expect(key).toMatch(/^gw_[A-Za-z0-9_-]{43}$/);
    expect(created.json).toMatchObject({ name: "Checkout service", owner: who, plan: "free", status: "active", expiresAt: "2099-01-01T00:00:00.000Z" });
    expect(await useKey(key!)).toBe(200);

    // Read and list: never the key, never its hash.
    const got = await admin("GET", `/keys/${id}`);
    expect(got.status).toBe(200);
    expect(Object.keys(got.json).sort()).toEqual(["createdAt", "expiresAt", "id", "name", "owner", "plan", "scopes", "status", "updatedAt"]);
    const listed = await admin("GET", `/keys?owner=${who}`);
    expect((listed.json.keys as KeyView[]).map((k) => k.id)).toEqual([id]);
    for (const text of [got.text, listed.text]) expect(text).not.toContain(key!.slice(3));

    // Change plan.
    const replanned = await admin("PATCH", `/keys/${id}`, { plan: "pro" });
    expect([replanned.status, replanned.json.plan]).toEqual([200, "pro"]);
    const onPro = await call("/v1/orders/1", { headers: { "x-api-key": key! } });
    expect(onPro.headers.get("ratelimit-policy")).toContain(`"pro-rate";q=100;w=1`);
    await onPro.body?.cancel();

    // Disable and enable.
    expect((await admin("POST", `/keys/${id}/disable`)).json.status).toBe("disabled");
    expect(await useKey(key!)).toBe(403);
    expect((await admin("POST", `/keys/${id}/enable`)).json.status).toBe("active");
    expect(await useKey(key!)).toBe(200);

    // Rotate: the new key works at once, the old one stops at once.
    const rotated = await admin("POST", `/keys/${id}/rotate`);
    expect(rotated.status).toBe(200);
    expect(rotated.headers.get("cache-control")).toBe("no-store");
    expect(rotated.json).toMatchObject({ id, plan: "pro", status: "active" });
    expect(rotated.json.key).not.toBe(key);
    expect(await useKey(key!)).toBe(401);
    expect(await useKey(rotated.json.key!)).toBe(200);

    // Revoke: final.
    expect((await admin("POST", `/keys/${id}/revoke`)).json.status).toBe("revoked");
    expect(await useKey(rotated.json.key!)).toBe(403);
    for (const [method, path, body] of [["POST", `/keys/${id}/enable`], ["POST", `/keys/${id}/rotate`], ["PATCH", `/keys/${id}`, { plan: "free" }]] as const) {
      const refused = await admin(method, path, body);
      expect([refused.status, (refused.json.error as { code: string }).code]).toEqual([409, "key_revoked"]);
    }
    expect((await admin("GET", `/keys/${id}`)).json.status).toBe("revoked");
  });

  it("reports usage in the current rate window and quota period", async () => {
    const { json: { id, key } } = await admin("POST", "/keys", { name: "usage", owner: owner(), plan: "free" });
    for (let i = 0; i < 3; i++) expect(await useKey(key!)).toBe(200);
    const usage = await admin("GET", `/keys/${id}/usage`);
    expect(usage.status).toBe(200);
    expect(usage.json).toMatchObject({
      keyId: id, plan: "free",
      rate: { limit: 10, perMs: 1000, burst: 20 },
      quota: { limit: 1000, period: "day", used: 3, remaining: 997 },
    });
    const rate = usage.json.rate as { used: number; remaining: number };
    expect(rate.used + rate.remaining).toBe(20);
    expect(rate.remaining).toBeGreaterThanOrEqual(17);
    const day = new Date().toISOString().slice(0, 10);
    expect((usage.json.quota as { periodStart: string }).periodStart).toBe(`${day}T00:00:00.000Z`);
  });

  it("pages through a long list with cursors", async () => {
    const who = owner();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await admin("POST", "/keys", { name: `k${i}`, owner: who, plan: "free" })).json.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await admin("GET", `/keys?owner=${who}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...(page.json.keys as KeyView[]).map((k) => k.id));
      cursor = page.json.nextCursor as string | null;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
  });
});

describe("finding keys", () => {
  it("searches by a part of the name or the owner, case-insensitively, and pages the matches", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const checkout = (await admin("POST", "/keys", { name: `Checkout ${tag}`, owner: `acme-${tag}`, plan: "free" })).json.id;
    const billing = (await admin("POST", "/keys", { name: `Billing ${tag}`, owner: `acme-${tag}`, plan: "free" })).json.id;
    const other = (await admin("POST", "/keys", { name: `Checkout ${tag}`, owner: `globex-${tag}`, plan: "free" })).json.id;
    const ids = async (query: string) => ((await admin("GET", `/keys?${query}`)).json.keys as KeyView[]).map((k) => k.id);
    expect(await ids(`search=checkout%20${tag}`)).toEqual([checkout, other]);
    expect(await ids(`search=ACME-${tag}`)).toEqual([checkout, billing]);
    expect(await ids(`search=${tag}&owner=globex-${tag}`)).toEqual([other]);
    const first = await admin("GET", `/keys?search=${tag}&limit=2`);
    expect((first.json.keys as KeyView[]).map((k) => k.id)).toEqual([checkout, billing]);
    expect(await ids(`search=${tag}&limit=2&cursor=${encodeURIComponent(first.json.nextCursor as string)}`)).toEqual([other]);
  });

  it("matches % and _ literally", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const percent = (await admin("POST", "/keys", { name: `100% ${tag}`, owner: "o", plan: "free" })).json.id;
    await admin("POST", "/keys", { name: `100x ${tag}`, owner: "o", plan: "free" });
    expect(((await admin("GET", `/keys?search=${encodeURIComponent(`100% ${tag}`)}`)).json.keys as KeyView[]).map((k) => k.id)).toEqual([percent]);
    expect(((await admin("GET", `/keys?search=${encodeURIComponent(`100_ ${tag}`)}`)).json.keys as KeyView[])).toEqual([]);
  });
});

describe("resetting a key's usage", () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it("empties the key's quota and refills its bucket, answers the usage after, and logs who and which request", async () => {
    const { json: { id, key } } = await admin("POST", "/keys", { name: "support case", owner: owner(), plan: "free" });
    for (let i = 0; i < 5; i++) expect(await useKey(key!)).toBe(200);
    expect((await admin("GET", `/keys/${id}/usage`)).json.quota).toMatchObject({ used: 5, remaining: 995 });

    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => { lines.push(args.map(String).join(" ")); });
    const reset = await call(`/_gateway/keys/${id}/usage/reset`, { method: "POST", headers: { ...ADMIN, "x-request-id": "support-ticket-42" } });
    expect(reset.status).toBe(200);
    const after = (await reset.json()) as { keyId: string; quota: { used: number; remaining: number }; rate: { used: number; remaining: number } };
    expect(after).toMatchObject({ keyId: id, quota: { used: 0, remaining: 1000 }, rate: { used: 0, remaining: 20 } });
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual({ level: "info", code: "usage_reset", keyId: id, requestId: "support-ticket-42" });
    vi.restoreAllMocks();

    expect(await useKey(key!)).toBe(200);
    expect((await admin("GET", `/keys/${id}/usage`)).json.quota).toMatchObject({ used: 1 });
  });

  it("needs the admin token and a known key", async () => {
    const { json: { id } } = await admin("POST", "/keys", { name: "n", owner: owner(), plan: "free" });
    expect((await call(`/_gateway/keys/${id}/usage/reset`, { method: "POST" })).status).toBe(401);
    const unknown = await admin("POST", "/keys/key_00000000000000000000/usage/reset");
    expect([unknown.status, (unknown.json.error as { code: string }).code]).toEqual([404, "key_not_found"]);
  });
});

describe("requests the admin API refuses", () => {
  const codeOf = async (method: string, path: string, body?: unknown) => {
    const r = await admin(method, path, body);
    return [r.status, (r.json.error as { code: string; message: string }).code, (r.json.error as { message: string }).message] as const;
  };

  it("names the field that is missing, extra or malformed", async () => {
    expect(await codeOf("POST", "/keys", { owner: "o", plan: "free" })).toEqual([400, "invalid_request", expect.stringContaining("name:")]);
    expect(await codeOf("POST", "/keys", { name: "n", owner: "o", plan: "free", key: "gw_mine" })).toEqual([400, "invalid_request", expect.stringContaining("key")]);
    expect(await codeOf("POST", "/keys", { name: "n", owner: "o", plan: "free", expiresAt: "tomorrow" })).toEqual([400, "invalid_request", expect.stringContaining("expiresAt")]);
    expect(await codeOf("POST", "/keys", { name: "  ", owner: "o", plan: "free" })).toEqual([400, "invalid_request", expect.stringContaining("name")]);
  });

  it("says what is wrong in the gateway's words, not the validator's", async () => {
    expect(await codeOf("POST", "/keys", { owner: "o", plan: "free" })).toEqual([400, "invalid_request", "name: required"]);
    const [, , message] = await codeOf("POST", "/keys", { name: 5, owner: "o", plan: "free", nmae: "x" });
    expect(message).toContain(`unknown field "nmae" (did you mean "name"?)`);
    expect(message).not.toMatch(/Invalid input|expected|received|Unrecognized/);
  });

  it("refuses an unknown plan, an expiry in the past and a body that is not JSON", async () => {
    expect(await codeOf("POST", "/keys", { name: "n", owner: "o", plan: "gold" })).toEqual([400, "unknown_plan", `Unknown plan "gold"; configured plans: free, pro.`]);
    expect(await codeOf("POST", "/keys", { name: "n", owner: "o", plan: "free", expiresAt: "2001-01-01T00:00:00Z" })).toEqual([400, "invalid_request", "expiresAt: must be in the future."]);
    const notJson = await call("/_gateway/keys", { method: "POST", headers: ADMIN, body: "{name:" });
    expect([notJson.status, (await errorOf(notJson)).code]).toEqual([400, "invalid_json"]);
    const noType = await call("/_gateway/keys", { method: "POST", headers: { authorization: ADMIN.authorization }, body: "{}" });
    expect([noType.status, (await errorOf(noType)).code]).toEqual([415, "unsupported_media_type"]);
  });

  it("answers 404 key_not_found for an unknown or malformed id", async () => {
    expect((await codeOf("GET", "/keys/key_00000000000000000000")).slice(0, 2)).toEqual([404, "key_not_found"]);
    expect((await codeOf("POST", "/keys/nonsense/disable")).slice(0, 2)).toEqual([404, "key_not_found"]);
    expect((await codeOf("GET", "/keys/key_00000000000000000000/usage")).slice(0, 2)).toEqual([404, "key_not_found"]);
  });

  it("refuses a cursor it did not issue and a limit out of range", async () => {
    expect((await codeOf("GET", "/keys?cursor=abc")).slice(0, 2)).toEqual([400, "invalid_request"]);
    expect((await codeOf("GET", "/keys?limit=0")).slice(0, 2)).toEqual([400, "invalid_request"]);
    expect((await codeOf("GET", "/keys?limit=5000")).slice(0, 2)).toEqual([400, "invalid_request"]);
  });
});
