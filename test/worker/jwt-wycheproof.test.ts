/**
 * Every vector of Wycheproof's JSON Web Signature tests (test/fixtures, Apache-2.0) through the
 * gateway's verifier, inside workerd. One authorizer per test group, built from the group's key:
 * its public JWK as an inline JWKS, or its HMAC key as a Worker secret (base64url).
 *
 * The vectors sign arbitrary payloads ("foo"), not JWT claims sets. So "accepted" means the token
 * passed the format checks, the key selection and the signature, and was refused only by the
 * claims check that follows (reason "not_claims_set"); "rejected" means it was refused before or
 * at the signature.
 *
 * Deliberate differences from Wycheproof's verdict are listed below with the reason, and counted.
 */
import { describe, expect, it } from "vitest";
import vectors from "../fixtures/wycheproof-json_web_signature_test.json";
import { AFTER_SIGNATURE, JwtRejection } from "../../src/policies/jwt/errors.ts";
import { JwtAuthorizerSchema, JWT_ALGORITHMS } from "../../src/policies/jwt/schema.ts";
import { JwtVerifier } from "../../src/policies/jwt/verifier.ts";

interface Vector { tcId: number; comment: string; jws: unknown; result: "valid" | "invalid" | "acceptable"; flags: string[] }
interface Group { comment: string; public?: Record<string, unknown>; private?: Record<string, unknown>; tests: Vector[] }

/** Valid vectors the gateway refuses on purpose, by tcId. */
const REFUSED_ON_PURPOSE: Record<number, string> = {
  372: "a '?' inside the header segment: the compact pattern refuses any character outside base64url (Wycheproof accepts decoders that skip it)",
  373: "a '?' inside the payload segment: same rule",
  346: "RFC 7520 Figure 20 signs with PS384, but the group's JWK declares alg PS256: a key's alg must equal the token's",
  350: "same as 346",
  347: "the key's JWK declares alg \"ES521\", not a JWA name: a key's alg must equal the token's (ES512)",
  351: "same key as 347 (\"ES521\")",
};

/**
 * Invalid vectors that are byte-for-byte the valid vector 357 in this file (the padding their names
 * promise is absent), so no verifier can both accept 357 and reject them. They get 357's verdict.
 */
const SAME_AS_VALID_357 = new Set([367, 370]);

const groups = (vectors as unknown as { testGroups: Group[] }).testGroups;
const SECRET = "WYCHEPROOF_HMAC_KEY";

type Outcome = "accepted" | "rejected";

const registered = (alg: unknown): alg is string => typeof alg === "string" && (JWT_ALGORITHMS as readonly string[]).includes(alg);

/** The key's alg; for a key without one, the algorithm its vectors use (as an operator would list the IdP's). */
function algorithmsFor(jwk: Record<string, unknown>, vector: Vector): string[] {
  if (registered(jwk.alg)) return [jwk.alg];
  let headerAlg: unknown;
  try { headerAlg = (JSON.parse(atob(String(vector.jws).split(".")[0]!.replace(/-/g, "+").replace(/_/g, "/"))) as { alg?: unknown }).alg; } catch { /* not compact */ }
  if (registered(headerAlg) && !headerAlg.startsWith("HS")) return [headerAlg];
  return [jwk.kty === "EC" ? "ES256" : "RS256"];
}

/** Builds the group's verifier, or undefined when the gateway refuses the key set at startup. */
function verifierFor(group: Group, vector: Vector): { verifier: JwtVerifier | undefined; env: Record<string, unknown> } {
  const hmac = group.private?.kty === "oct" ? group.private : undefined;
  const base = { type: "jwt", issuer: "wycheproof", audience: "wycheproof" };
  try {
    if (hmac) {
      const config = JwtAuthorizerSchema.parse({ ...base, algorithms: [hmac.alg], secret: { env: SECRET }, secretEncoding: "base64url" });
      return { verifier: new JwtVerifier(`g${vector.tcId}`, config), env: { [SECRET]: hmac.k } };
    }
    const jwk = group.public!;
    const config = JwtAuthorizerSchema.parse({ ...base, algorithms: algorithmsFor(jwk, vector), jwks: { keys: [jwk] } });
    return { verifier: new JwtVerifier(`g${vector.tcId}`, config), env: {} };
  } catch (error) {
    if (error instanceof TypeError) return { verifier: undefined, env: {} };
    throw error;
  }
}

async function outcomeOf(group: Group, vector: Vector): Promise<{ outcome: Outcome; reason: string }> {
  const { verifier, env } = verifierFor(group, vector);
  if (!verifier) return { outcome: "rejected", reason: "key set refused at startup" };
  const token = typeof vector.jws === "string" ? vector.jws : JSON.stringify(vector.jws);
  try {
    await verifier.verify(token, { env });
    return { outcome: "accepted", reason: "claims" };
  } catch (error) {
    if (!(error instanceof JwtRejection)) throw error;
    expect(error.status, `tcId ${vector.tcId}: a refusal is a 401, never a 500`).toBe(401);
    return { outcome: AFTER_SIGNATURE.has(error.reason) ? "accepted" : "rejected", reason: error.reason };
  }
}

describe("Wycheproof JSON Web Signature vectors through the gateway's verifier", () => {
  const all = groups.flatMap((group) => group.tests.map((vector) => ({ group, vector })));

  it("covers every vector of the file", () => {
    expect(all.length).toBe((vectors as unknown as { numberOfTests: number }).numberOfTests);
  });

  it.each(all.map(({ group, vector }) => [`${vector.tcId} ${group.comment} ${vector.comment} (${vector.result})`, group, vector] as const))(
    "%s", async (_name, group, vector) => {
      const { outcome, reason } = await outcomeOf(group, vector);
      if (SAME_AS_VALID_357.has(vector.tcId)) expect(vector.jws).toBe(all.find(({ vector }) => vector.tcId === 357)!.vector.jws);
      if (vector.result === "invalid" && !SAME_AS_VALID_357.has(vector.tcId)) expect(outcome, `tcId ${vector.tcId} must be rejected (got ${reason})`).toBe("rejected");
      else if (REFUSED_ON_PURPOSE[vector.tcId]) expect(outcome, REFUSED_ON_PURPOSE[vector.tcId]).toBe("rejected");
      else expect({ outcome, reason }).toEqual({ outcome: "accepted", reason: "not_claims_set" });
    },
  );

  it("states how many valid vectors are refused on purpose", () => {
    const valid = all.filter(({ vector }) => vector.result === "valid").length;
    const refused = Object.keys(REFUSED_ON_PURPOSE).length;
    expect({ valid, refusedOnPurpose: refused, invalidButIdenticalToValid: SAME_AS_VALID_357.size }).toEqual({ valid: 46, refusedOnPurpose: 6, invalidButIdenticalToValid: 2 });
  });

  it("verifies the signatures of the vectors whose key declares another alg, once that alg is removed", async () => {
    for (const tcId of [346, 347, 350, 351]) {
      const { group, vector } = all.find(({ vector }) => vector.tcId === tcId)!;
      const { alg: _ignored, ...jwk } = group.public!;
      expect(await outcomeOf({ ...group, public: jwk }, vector)).toEqual({ outcome: "accepted", reason: "not_claims_set" });
    }
  });
});
