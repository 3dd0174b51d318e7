/** `npm run token` mints what the local HS256 authorizer of the table accepts, and says why when it cannot. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { mintToken, parseTokenArgs, TOKEN_USAGE } from "../../scripts/token.ts";

const dir = mkdtempSync(join(tmpdir(), "token-"));
const SECRET = "a-local-secret-of-at-least-32-bytes-0123456789";
const tableFile = (authorizers: Record<string, unknown>) => {
  const file = join(dir, `routes-${Object.keys(authorizers).join("-")}.json`);
  writeFileSync(file, JSON.stringify({ origins: { o: { url: "http://127.0.0.1:9001" } }, authorizers, routes: [{ id: "r", path: "/r", origin: "o", auth: "none" }] }));
  return file;
};
const hs = (env: string) => ({ type: "jwt", issuer: "edge-gateway-demo", audience: ["demo-api", "other"], algorithms: ["HS256"], secret: { env } });

afterEach(() => { delete process.env.TOKEN_TEST_SECRET; });

describe("npm run token", () => {
  it("signs with the authorizer's secret, issuer and audience, with the given subject, scopes and claims", async () => {
    process.env.TOKEN_TEST_SECRET = SECRET;
    const routes = tableFile({ demo: hs("TOKEN_TEST_SECRET") });
    const token = await mintToken(parseTokenArgs(["--sub", "alice", "--scope", "users:read", "--scope", "orders:write", "--claim", "tier=\"gold\"", "--claim", "age=42", "--routes", routes]));
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(SECRET), { issuer: "edge-gateway-demo", audience: "demo-api", algorithms: ["HS256"] });
    expect(protectedHeader.alg).toBe("HS256");
    expect(payload).toMatchObject({ sub: "alice", scope: "users:read orders:write", tier: "gold", age: 42 });
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("names the secret it could not find, and asks which authorizer when there are several", async () => {
    await expect(mintToken(parseTokenArgs(["--routes", tableFile({ demo: hs("TOKEN_TEST_SECRET") })])))
      .rejects.toThrow(`TOKEN_TEST_SECRET (the secret of authorizer "demo") is not in the environment or .dev.vars`);
    await expect(mintToken(parseTokenArgs(["--routes", tableFile({ a: hs("A"), b: hs("B") })])))
      .rejects.toThrow(/several HMAC authorizers: pick one with --authorizer \(a, b\)/);
  });

  it("refuses options it does not know, a missing value and a malformed claim, each by name with the usage", () => {
    for (const [argv, message] of [
      [["--subject", "alice"], "Unknown option '--subject'"],
      [["--sub"], "Option '--sub <value>' argument missing"],
      [["alice"], "Unexpected argument 'alice'"],
      [["--claim", "tier"], `--claim takes name=value, not "tier"`],
    ] as const) {
      expect(() => parseTokenArgs([...argv]), argv.join(" ")).toThrow(expect.objectContaining({ name: "UsageError", message: expect.stringContaining(message), usage: TOKEN_USAGE }));
    }
  });

  it("takes --name=value as well as --name value, and repeats --scope and --claim", () => {
    expect(parseTokenArgs(["--sub=bob", "--scope=a b", "--scope", "c", "--claim=x=1", "--expires=5m", "--routes", "t.json"], {}))
      .toEqual({ sub: "bob", scopes: ["a", "b", "c"], claims: { x: 1 }, expires: "5m", authorizer: undefined, routes: "t.json" });
    expect(parseTokenArgs([], { GATEWAY_ROUTES: "staging.json" })).toMatchObject({ scopes: [], claims: {}, expires: "1h", routes: "staging.json" });
  });
});
