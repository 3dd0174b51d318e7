/** Verified tokens are remembered per isolate: the signature is checked once, nothing else is relaxed. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { VerifiedTokens } from "../../../../src/policies/jwt/verified_tokens.ts";
import { epochNow, mint, utf8, type MintOptions } from "../../../../tools/jwt-tokens.ts";
import { TEST_JWT_SECRET } from "../../../support/jwt-secret.ts";
import { errorOf, gatewayFor, route } from "../../../support/worker-gateway.ts";

const token = (options: MintOptions = {}) => mint(utf8(TEST_JWT_SECRET), "HS256", undefined, options);
const bearer = (jwt: string) => ({ headers: { authorization: `Bearer ${jwt}` } });
const authorizers = {
  main: { type: "jwt", issuer: "https://auth.test/", audience: "api", algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" }, clockToleranceSec: 0 },
};

describe("the verified-token cache, through the gateway", () => {
  afterEach(() => vi.restoreAllMocks());
  const call = gatewayFor({
    authorizers,
    routes: [
      route("open", "/open", { auth: { authorizer: "main" } }),
      route("scoped", "/scoped", { auth: { authorizer: "main", scopes: ["admin"] } }),
    ],
  });

  it("checks a token's signature once, however often it is presented", async () => {
    const verify = vi.spyOn(crypto.subtle, "verify");
    const jwt = await token();
    for (let i = 0; i < 5; i++) expect((await call("/open", bearer(jwt))).status).toBe(200);
    expect(verify).toHaveBeenCalledTimes(1);
  });

  it("still checks every route's own requirements against the remembered claims", async () => {
    const jwt = await token({ claims: { scope: "read" } });
    expect((await call("/open", bearer(jwt))).status).toBe(200);
    const response = await call("/scoped", bearer(jwt));
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe("insufficient_scope");
  });

  it("never honours a remembered token past its exp", async () => {
    const jwt = await token({ claims: { exp: epochNow() + 1 } });
    expect((await call("/open", bearer(jwt))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const response = await call("/open", bearer(jwt));
    expect(response.status).toBe(401);
    expect((await errorOf(response)).code).toBe("token_expired");
  });

  it("does not remember a token that failed, nor let a near-copy hit", async () => {
    const jwt = await token();
    expect((await call("/open", bearer(jwt))).status).toBe(200);
    const tampered = jwt.slice(0, -2) + (jwt.endsWith("AA") ? "BA" : "AA");
    expect((await call("/open", bearer(tampered))).status).toBe(401);
    expect((await call("/open", bearer(tampered))).status).toBe(401);
  });
});

describe("VerifiedTokens", () => {
  const claims = (exp: number) => ({ sub: "u", exp });

  it("keeps an entry until exp plus the tolerance when that comes first", () => {
    const cache = new VerifiedTokens(10, 60_000);
    cache.remember("t", claims(100), 90_000, 5); // valid until (100 + 5) s
    expect(cache.get("t", 104_999)).toMatchObject({ sub: "u" });
    expect(cache.get("t", 105_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("keeps an entry at most its maximum age, so a removed key stops being honoured", () => {
    const cache = new VerifiedTokens(10, 60_000);
    cache.remember("t", claims(10_000), 0, 0);
    expect(cache.get("t", 59_999)).toBeDefined();
    expect(cache.get("t", 60_000)).toBeUndefined();
  });

  it("holds a bounded number of tokens, dropping the oldest", () => {
    const cache = new VerifiedTokens(3, 60_000);
    for (const t of ["a", "b", "c", "d"]) cache.remember(t, claims(1_000), 0, 0);
    expect(cache.size).toBe(3);
    expect(cache.get("a", 1)).toBeUndefined();
    expect(cache.get("d", 1)).toBeDefined();
  });

  it("hands out frozen claims, so one request cannot change another's identity", () => {
    const cache = new VerifiedTokens();
    const stored = cache.remember("t", claims(1_000), 0, 0);
    expect(Object.isFrozen(stored)).toBe(true);
    expect(Object.isFrozen(cache.get("t", 1))).toBe(true);
  });
});
