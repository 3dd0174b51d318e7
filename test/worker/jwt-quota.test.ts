/** The JWT authorizer in front of rate limits by a verified claim (`by: "jwt:sub"`, issue 4). */
import { describe, expect, it } from "vitest";
import { errorOf, gatewayFor, route } from "../support/worker-gateway.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { AUDIENCE, ISSUER, mint, utf8 } from "../../tools/jwt-tokens.ts";

const statuses = (responses: Response[]) => {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
};

describe("rate limits by a verified JWT claim", () => {
  const call = gatewayFor({
    plans: { five: { quota: { limit: 5, per: "month" } } },
    authorizers: { internal: { type: "jwt", issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], secret: { env: "TEST_JWT_SECRET" } } },
    routes: [route("search", "/search", { auth: { authorizer: "internal" }, rateLimit: { plan: "five", by: "jwt:sub" } })],
  });
  const token = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET) => mint(utf8(secret), "HS256", undefined, { claims });
  const search = async (bearer: string) => call("/search", { headers: { authorization: `Bearer ${bearer}` } });

  it("counts each verified subject on its own", async () => {
    const alice = await token({ sub: `alice-${crypto.randomUUID()}` });
    const bob = await token({ sub: `bob-${crypto.randomUUID()}` });
    const responses = await Promise.all([...Array.from({ length: 7 }, () => search(alice)), ...Array.from({ length: 2 }, () => search(bob))]);
    expect(statuses(responses.slice(0, 7))).toEqual({ 200: 5, 429: 2 });
    expect(statuses(responses.slice(7))).toEqual({ 200: 2 });
    await Promise.all(responses.map((r) => (r.bodyUsed ? undefined : r.body?.cancel())));
  });

  it("never counts a forged token under the subject it names: it is refused before the limiter", async () => {
    const sub = `carol-${crypto.randomUUID()}`;
    const forged = await token({ sub }, "not-the-gateway-secret-not-the-gateway-secret");
    for (let i = 0; i < 6; i++) expect((await errorOf(await search(forged))).code).toBe("token_invalid");
    const real = await token({ sub });
    const responses = await Promise.all(Array.from({ length: 5 }, () => search(real)));
    expect(statuses(responses)).toEqual({ 200: 5 });
    await Promise.all(responses.map((r) => r.body?.cancel()));
  });

  it("refuses a verified token without the claim it counts by", async () => {
    const response = await search(await token({ sub: undefined }));
    expect([response.status, (await errorOf(response)).code]).toEqual([403, "rate_limit_claim_missing"]);
  });
});
