import { afterEach, describe, expect, it, vi } from "vitest";
import { base64url, exportJWK, generateKeyPair, type JWK } from "jose";
import { verifyRequest, type JwtTable } from "../../src/policies/jwt/index.ts";
import { setOriginHeader } from "../../src/upstream/index.ts";
import { echoOf, errorOf, gatewayFor, policiesWith, route, testPolicy } from "../support/worker-gateway.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { AUDIENCE, epochNow, ISSUER, mint, mintWith, testKeyPair, utf8, type TestKeyPair } from "../../tools/jwt-tokens.ts";
import { publicPem, signRaw, unsecuredToken } from "../support/jwt-tokens.ts";

const rsa: TestKeyPair = await testKeyPair("RS256", "rsa-1");
const ec: TestKeyPair = await testKeyPair("ES256", "ec-1");
// The attacker's own key pair, published under the victim's kid.
const attacker: TestKeyPair = await testKeyPair("RS256", "rsa-1");
const pem = await publicPem(ec);

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** Exposes the claims the authorizer put on the context, as a header to the echo origin. */
const exposeClaims = policiesWith(testPolicy(async (c, next) => {
  setOriginHeader(c, "x-test-claims", encodeURIComponent(JSON.stringify(c.get("jwt") ?? null)));
  await next();
}), "room");

function gateway() {
  return gatewayFor({
    authorizers: {
      main: { type: "jwt", issuer: ISSUER, audience: [AUDIENCE], algorithms: ["RS256", "ES256"], jwks: { keys: [rsa.publicJwk, ec.publicJwk] } },
      pem: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], publicKey: pem },
      internal: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } },
      custom: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"], jwks: { keys: [rsa.publicJwk] }, tokenSources: [{ header: "X-Access-Token" }] },
      browser: {
        type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwks: { keys: [ec.publicJwk] },
        tokenSources: [{ header: "authorization" }, { cookie: "session" }, { query: "access_token" }, { webSocketProtocol: "bearer." }],
      },
    },
    routes: [
      route("users", "/v1/users/:id", { auth: { authorizer: "main" }, identityHeaders: { "x-user-id": "sub", "x-user-email": "email", "x-user-roles": "roles" } }),
      route("forwarding", "/v1/forwarding", { auth: { authorizer: "main", forwardAuthorization: true } }),
      route("custom", "/v1/custom", { auth: { authorizer: "custom" } }),
      route("pem", "/v1/pem", { auth: { authorizer: "pem" } }),
      route("internal", "/v1/internal", { auth: { authorizer: "internal" } }),
      route("browser", "/v1/browser", { auth: { authorizer: "browser" }, identityHeaders: { "x-user-id": "sub" } }),
      route("scoped", "/v1/scoped", { auth: { authorizer: "main", scopes: ["users:read", "users:write"] } }),
      route("admins", "/v1/admins", { auth: { authorizer: "main", claims: { roles: { contains: "admin" }, tenant: "acme", tier: { in: ["gold", "platinum"] } } } }),
      route("public", "/v1/public"),
    ],
  }, { policies: exposeClaims });
}

async function expectRefused(response: Response, status: number, code: string, message?: string | RegExp) {
  const error = await errorOf(response);
  expect({ status: response.status, code: error.code }).toEqual({ status, code });
  if (message !== undefined) expect(error.message).toMatch(message);
  return error;
}

describe("JWT authorizer: valid tokens reach the origin", () => {
  const call = gateway();

  it("accepts an RS256 token from the inline JWKS and puts its claims on the context", async () => {
    const echo = await echoOf(await call("/v1/users/1", bearer(await mintWith(rsa, { claims: { sub: "u-42" } }))));
    const claims = JSON.parse(decodeURIComponent(String(echo.headers["x-test-claims"])));
    expect(claims).toMatchObject({ sub: "u-42", iss: ISSUER, aud: AUDIENCE });
  });

  it("accepts an ES256 token from the same key set, chosen by kid", async () => {
    expect((await call("/v1/users/1", bearer(await mintWith(ec)))).status).toBe(200);
  });

  it("accepts the lower-case bearer scheme (RFC 6750 schemes are case-insensitive)", async () => {
    const token = await mintWith(rsa);
    expect((await call("/v1/users/1", { headers: { authorization: `bearer ${token}` } })).status).toBe(200);
    expect((await call("/v1/users/1", { headers: { authorization: `BEARER ${token}` } })).status).toBe(200);
  });

  it("verifies with a PEM public key", async () => {
    expect((await call("/v1/pem", bearer(await mintWith(ec)))).status).toBe(200);
  });

  it("verifies HS256 with the Worker secret named in the authorizer", async () => {
    const token = await mint(utf8(TEST_JWT_SECRET), "HS256", undefined);
    expect((await call("/v1/internal", bearer(token))).status).toBe(200);
  });

  it("leaves routes without an authorizer alone", async () => {
    expect((await call("/v1/public")).status).toBe(200);
  });
});

describe("JWT authorizer: what the origin sees", () => {
  const call = gateway();

  it("sends the configured claims as identity headers and strips the Authorization header", async () => {
    const token = await mintWith(rsa, { claims: { sub: "u-7", email: "ada@example.com", roles: ["admin", "ops"] } });
    const echo = await echoOf(await call("/v1/users/1", bearer(token)));
    expect(echo.headers["x-user-id"]).toBe("u-7");
    expect(echo.headers["x-user-email"]).toBe("ada@example.com");
    expect(echo.headers["x-user-roles"]).toBe(`["admin","ops"]`);
    expect(echo.headers.authorization).toBeUndefined();
  });

  it("removes client-sent identity headers, also when the token lacks the claim", async () => {
    const token = await mintWith(rsa, { claims: { sub: "u-7" } });
    const echo = await echoOf(await call("/v1/users/1", { headers: { authorization: `Bearer ${token}`, "x-user-id": "root", "x-user-email": "forged@example.com", "X-User-Roles": "admin" } }));
    expect(echo.headers["x-user-id"]).toBe("u-7");
    expect(echo.headers["x-user-email"]).toBeUndefined();
    expect(echo.headers["x-user-roles"]).toBeUndefined();
  });

  it("does not send a claim a header cannot carry (non-ASCII text)", async () => {
    const token = await mintWith(rsa, { claims: { sub: "u-7", email: "josé@example.com" } });
    const echo = await echoOf(await call("/v1/users/1", { headers: { authorization: `Bearer ${token}`, "x-user-email": "forged@example.com" } }));
    expect(echo.headers["x-user-email"]).toBeUndefined();
  });

  it("forwards the Authorization header when the route asks for it", async () => {
    const token = await mintWith(rsa);
    const echo = await echoOf(await call("/v1/forwarding", bearer(token)));
    expect(echo.headers.authorization).toBe(`Bearer ${token}`);
  });

  it("reads the token from a configured header and does not forward that header", async () => {
    const echo = await echoOf(await call("/v1/custom", { headers: { "x-access-token": `Bearer ${await mintWith(rsa)}` } }));
    expect(echo.headers["x-access-token"]).toBeUndefined();
    await expectRefused(await call("/v1/custom", bearer(await mintWith(rsa))), 401, "token_missing");
  });

  it("reads the token from a cookie and forwards the other cookies without it", async () => {
    const token = await mintWith(ec);
    const echo = await echoOf(await call("/v1/browser", { headers: { cookie: `theme=dark; session=${token}; lang=en` } }));
    expect(echo.headers["x-user-id"]).toBe("user-1");
    expect(echo.headers.cookie).toBe("theme=dark; lang=en");
  });

  it("forwards no Cookie or Sec-WebSocket-Protocol header at all when the token was all it held", async () => {
    const token = await mintWith(ec);
    const echo = await echoOf(await call("/v1/browser", { headers: { cookie: `session=${token}` } }));
    expect(echo.headers.cookie).toBeUndefined();
    const viaProtocol = await echoOf(await call("/v1/browser", { headers: { "sec-websocket-protocol": `bearer.${token}` } }));
    expect(viaProtocol.headers["sec-websocket-protocol"]).toBeUndefined();
  });

  it("reads the token from an opted-in query parameter and keeps it out of the origin's URL", async () => {
    const token = await mintWith(ec);
    const echo = await echoOf(await call(`/v1/browser?a=1&access_token=${token}&b=x%20y`));
    expect(echo.url).toBe("/v1/browser?a=1&b=x%20y");
    expect(JSON.stringify(echo)).not.toContain(token);
    expect((await echoOf(await call(`/v1/browser?access_token=${token}`))).url).toBe("/v1/browser");
  });

  it("reads the token from a Sec-WebSocket-Protocol entry and forwards the other entries", async () => {
    const token = await mintWith(ec);
    const echo = await echoOf(await call("/v1/browser", { headers: { "sec-websocket-protocol": `chat.v1, bearer.${token}` } }));
    expect(echo.headers["sec-websocket-protocol"]).toBe("chat.v1");
  });

  it("refuses a token cookie sent twice", async () => {
    const token = await mintWith(ec);
    await expectRefused(await call("/v1/browser", { headers: { cookie: `session=${token}; session=${token}` } }), 401, "token_malformed");
  });
});

describe("JWT authorizer: refusing tokens", () => {
  const call = gateway();

  it("answers 401 with a plain Bearer challenge when there is no token (RFC 6750 3.1)", async () => {
    const response = await call("/v1/users/1");
    expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="main"`);
    await expectRefused(response, 401, "token_missing");
  });

  it("treats another Authorization scheme as no token", async () => {
    await expectRefused(await call("/v1/users/1", { headers: { authorization: "Basic dXNlcjpwYXNz" } }), 401, "token_missing");
  });

  it("answers invalid_token challenges for bad tokens", async () => {
    const response = await call("/v1/users/1", bearer("abc.def.ghi"));
    expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="main", error="invalid_token", error_description="[^"]+"$/);
    await expectRefused(response, 401, "token_malformed");
  });

  it("refuses alg none, with or without a signature", async () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: "root", exp: epochNow() + 300 };
    await expectRefused(await call("/v1/users/1", bearer(unsecuredToken(claims))), 401, "token_malformed");
    await expectRefused(await call("/v1/users/1", bearer(unsecuredToken(claims, "c2ln"))), 401, "token_invalid", /algorithm is not accepted/);
  });

  it("refuses HS256 signed with the RSA public key (algorithm confusion)", async () => {
    const rsaPem = await publicPem(rsa);
    const forged = await mint(utf8(rsaPem), "HS256", rsa.kid);
    await expectRefused(await call("/v1/users/1", bearer(forged)), 401, "token_invalid", /algorithm is not accepted/);
    const forgedJwk = await mint(utf8(JSON.stringify(rsa.publicJwk)), "HS256", rsa.kid);
    await expectRefused(await call("/v1/users/1", bearer(forgedJwk)), 401, "token_invalid");
    const forgedPem = await mint(utf8(pem), "HS256", undefined);
    await expectRefused(await call("/v1/pem", bearer(forgedPem)), 401, "token_invalid", /algorithm is not accepted/);
  });

  it("ignores embedded jwk, jku, x5u and x5c headers and fetches nothing", async () => {
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const header = {
      jwk: attacker.publicJwk as JWK,
      jku: "https://attacker.test/jwks.json",
      x5u: "https://attacker.test/cert.pem",
      x5c: ["MIIBszCCAVmgAwIBAgIUZm9v"],
    };
    const forged = await mintWith(attacker, { header, claims: { sub: "root" } });
    await expectRefused(await call("/v1/users/1", bearer(forged)), 401, "token_invalid", /signature is invalid/);
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it("refuses a kid with path traversal, an unknown kid, and a 10 KB kid", async () => {
    await expectRefused(await call("/v1/users/1", bearer(await mint(rsa.privateKey, "RS256", "../../../../etc/passwd"))), 401, "token_invalid", /No known key/);
    await expectRefused(await call("/v1/users/1", bearer(await mint(rsa.privateKey, "RS256", "rsa-2"))), 401, "token_invalid", /No known key/);
    await expectRefused(await call("/v1/users/1", bearer(await mint(rsa.privateKey, "RS256", "k".repeat(10 * 1024)))), 401, "token_malformed", /longer than/);
  });

  it("refuses a token without exp", async () => {
    await expectRefused(await call("/v1/users/1", bearer(await mintWith(rsa, { omit: ["exp"] }))), 401, "token_invalid", /"exp"/);
  });

  it("applies the 30 s clock tolerance to exp and nbf, to the second", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-06-01T12:00:00.000Z"));
    const now = epochNow();
    const at = (claims: Record<string, number>) => mintWith(rsa, { claims, now });
    // exp is accepted while exp > now - tolerance.
    expect((await call("/v1/users/1", bearer(await at({ exp: now - 29 })))).status).toBe(200);
    await expectRefused(await call("/v1/users/1", bearer(await at({ exp: now - 30 }))), 401, "token_expired");
    // nbf is accepted while nbf <= now + tolerance.
    expect((await call("/v1/users/1", bearer(await at({ nbf: now + 30 })))).status).toBe(200);
    await expectRefused(await call("/v1/users/1", bearer(await at({ nbf: now + 31 }))), 401, "token_not_yet_valid");
  });

  it("refuses a wrong issuer or audience", async () => {
    await expectRefused(await call("/v1/users/1", bearer(await mintWith(rsa, { claims: { iss: "https://evil.test/" } }))), 401, "token_invalid", /issuer/);
    await expectRefused(await call("/v1/users/1", bearer(await mintWith(rsa, { claims: { aud: "other-api" } }))), 401, "token_invalid", /audience/);
    await expectRefused(await call("/v1/users/1", bearer(await mintWith(rsa, { omit: ["aud"] }))), 401, "token_invalid");
  });

  it("refuses whitespace or padding inside a segment", async () => {
    const [h, p, s] = (await mintWith(rsa)).split(".");
    for (const bad of [`${h}.${p}.${s}=`, `${h}=.${p}.${s}`, `${h}.${p} .${s}`, `${h}.\t${p}.${s}`, `${h}.${p}.${s!.slice(0, 10)}+${s!.slice(11)}`]) {
      await expectRefused(await call("/v1/users/1", { headers: { authorization: `Bearer ${bad}` } }), 401, "token_malformed");
    }
  });

  it("refuses the JSON serialization of a valid token", async () => {
    const [h, p, s] = (await mintWith(rsa)).split(".");
    const json = JSON.stringify({ protected: h, payload: p, signature: s });
    await expectRefused(await call("/v1/users/1", { headers: { authorization: `Bearer ${base64url.encode(json)}` } }), 401, "token_malformed");
    await expectRefused(await call("/v1/browser", { headers: { cookie: `session=${encodeURIComponent(json)}` } }), 401, "token_malformed");
  });

  it("refuses a JWE", async () => {
    const jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ";
    await expectRefused(await call("/v1/users/1", bearer(jwe)), 401, "token_malformed");
  });

  it("refuses a 16 KB token before parsing it", async () => {
    const big = await mintWith(rsa, { claims: { pad: "x".repeat(16 * 1024) } });
    await expectRefused(await call("/v1/users/1", bearer(big)), 401, "token_malformed", /longer than 8192/);
  });

  it("refuses two Authorization headers", async () => {
    const token = await mintWith(rsa);
    const headers = new Headers();
    headers.append("authorization", `Bearer ${token}`);
    headers.append("authorization", `Bearer ${token}`);
    await expectRefused(await call("/v1/users/1", { headers }), 401, "token_malformed", /more than once/);
  });

  it("refuses a critical header extension it does not understand", async () => {
    const token = await signRaw(rsa, { alg: "RS256", kid: rsa.kid, crit: ["exp-ext"], "exp-ext": 1 }, { iss: ISSUER, aud: AUDIENCE, exp: epochNow() + 300 });
    await expectRefused(await call("/v1/users/1", bearer(token)), 401, "token_invalid", /unsupported/);
  });

  it("refuses a token signed by a key that is not the authorizer's, with the right kid", async () => {
    await expectRefused(await call("/v1/users/1", bearer(await mintWith(attacker))), 401, "token_invalid", /signature is invalid/);
  });

  it("refuses an HS256 token signed with another secret", async () => {
    const token = await mint(utf8("another-secret-another-secret-another-secret"), "HS256", undefined);
    await expectRefused(await call("/v1/internal", bearer(token)), 401, "token_invalid", /signature/);
  });

  it("never echoes the token in the error", async () => {
    const token = await mintWith(rsa, { claims: { iss: "https://evil.test/", secret: "s3cr3t-marker" } });
    const response = await call("/v1/users/1", bearer(token));
    const text = await response.text();
    expect(text).not.toContain("s3cr3t");
    expect(text).not.toContain(token.split(".")[1]);
    expect(response.headers.get("www-authenticate")).not.toContain("evil");
  });
});

describe("JWT authorizer: fail closed without a usable secret", () => {
  // Its own gateway: the unset secret is reported on a gateway's first request (test/worker/secrets.test.ts).
  const call = gatewayFor({
    authorizers: { unset: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "NOT_BOUND_ANYWHERE" } } },
    routes: [route("unset", "/v1/unset", { auth: { authorizer: "unset" } })],
  });

  it("answers 503 auth_secret_missing with Retry-After when the Worker secret is not set, and tells the operator", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const token = await mint(utf8(TEST_JWT_SECRET), "HS256", undefined);
      const response = await call("/v1/unset", bearer(token));
      expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      await expectRefused(response, 503, "auth_secret_missing", /not configured/);
      expect(warn.mock.calls.map(([line]) => JSON.parse(String(line)).message)).toEqual(["JWT secret NOT_BOUND_ANYWHERE is not set: route unset answers 503"]);
      expect(error.mock.calls.map(([line]) => JSON.parse(String(line)))).toEqual([{ level: "error", code: "jwt_secret_missing", authorizer: "unset", secret: "NOT_BOUND_ANYWHERE" }]);
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });
});

describe("JWT authorizer: route requirements", () => {
  const call = gateway();

  it("accepts scopes from a space-separated scope claim or an scp array", async () => {
    expect((await call("/v1/scoped", bearer(await mintWith(rsa, { claims: { scope: "users:read openid users:write" } })))).status).toBe(200);
    expect((await call("/v1/scoped", bearer(await mintWith(rsa, { claims: { scp: ["users:write", "users:read"] } })))).status).toBe(200);
  });

  it("answers 403 insufficient_scope naming the required scopes when one is missing", async () => {
    const response = await call("/v1/scoped", bearer(await mintWith(rsa, { claims: { scope: "users:read" } })));
    expect(response.headers.get("www-authenticate")).toMatch(/error="insufficient_scope".*scope="users:read users:write"/);
    await expectRefused(response, 403, "insufficient_scope");
  });

  it("does not take a scope prefix or a substring for the scope", async () => {
    await expectRefused(await call("/v1/scoped", bearer(await mintWith(rsa, { claims: { scope: "users:read users:writer" } }))), 403, "insufficient_scope");
    await expectRefused(await call("/v1/scoped", bearer(await mintWith(rsa, { claims: { scope: "users:readusers:write" } }))), 403, "insufficient_scope");
  });

  it("requires every claim requirement (contains, equality, in)", async () => {
    const ok = { roles: ["user", "admin"], tenant: "acme", tier: "gold" };
    expect((await call("/v1/admins", bearer(await mintWith(rsa, { claims: ok })))).status).toBe(200);
    for (const bad of [{ ...ok, roles: ["user"] }, { ...ok, tenant: "other" }, { ...ok, tier: "bronze" }, { roles: ok.roles, tier: ok.tier }, { ...ok, tenant: ["acme"] }]) {
      const response = await call("/v1/admins", bearer(await mintWith(rsa, { claims: bad })));
      expect(response.headers.get("www-authenticate")).toMatch(/error="insufficient_scope"/);
      await expectRefused(response, 403, "claim_mismatch");
    }
  });
});

describe("verifyRequest: verifying outside a route's policies (WebSocket rooms)", () => {
  // A route with auth "none" whose own policy authenticates with the named authorizer.
  const table: JwtTable = { authorizers: { main: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"], jwks: { keys: [rsa.publicJwk] }, clockToleranceSec: 30 } } };
  const call = gatewayFor({ ...table, routes: [route("room", "/room")] }, {
    policies: [testPolicy(async (c) => {
      const claims = await verifyRequest(c, table, "main");
      return new Response(`hello ${String(claims.sub)}`);
    })],
  });

  it("returns the claims of a valid token", async () => {
    const response = await call("/room", bearer(await mintWith(rsa, { claims: { sub: "u-9" } })));
    expect(await response.text()).toBe("hello u-9");
  });

  it("throws the same refusals as the policy", async () => {
    await expectRefused(await call("/room"), 401, "token_missing");
    await expectRefused(await call("/room", bearer(await mintWith(attacker))), 401, "token_invalid");
  });
});

describe("JWT authorizer: configuration", () => {
  it("refuses a secret written into routes.json", () => {
    expect(() => gatewayFor({
      authorizers: { bad: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: "hunter2" } },
      routes: [route("r", "/r", { auth: { authorizer: "bad" } })],
    })).toThrow(/Worker secrets/);
  });

  it("refuses private key material in an inline JWKS", async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    expect(() => gatewayFor({
      authorizers: { bad: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["ES256"], jwks: { keys: [privateJwk] } } },
      routes: [route("r", "/r", { auth: { authorizer: "bad" } })],
    })).toThrow(/private or secret key material/);
  });

  it("refuses HS* with a public key source (algorithm confusion by configuration)", () => {
    expect(() => gatewayFor({
      authorizers: { bad: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256", "HS256"], jwks: { keys: [rsa.publicJwk] } } },
      routes: [route("r", "/r", { auth: { authorizer: "bad" } })],
    })).toThrow(/HS\* algorithms need a secret/);
  });

  it("refuses an identity header the gateway owns", () => {
    expect(() => gatewayFor({
      authorizers: { main: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["RS256"], jwks: { keys: [rsa.publicJwk] } } },
      routes: [route("r", "/r", { auth: { authorizer: "main" }, identityHeaders: { "x-forwarded-for": "sub" } })],
    })).toThrow(/cannot be an identity header/);
  });
});
