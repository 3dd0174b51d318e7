// Bench Worker: the cost of JWT verification steps inside workerd, one at a time (jwt-breakdown).
// POST /measure with {"secret","hs256","es256","jwk","issuer","audience"} answers us per operation
// for each step. Every step is timed as a loop of awaited operations between
// `await scheduler.wait(0)` boundaries (workerd's clock advances only at I/O, 1 ms resolution);
// the figure is the fastest of three loops divided by the loop's count.
// Plain JS for the reason given in bench/README.md; wrangler bundles it with jose and src/.
import { base64url, importJWK, jwtVerify } from "jose";
import { JwtVerifier } from "../../../src/policies/jwt/verifier.ts";

const enc = new TextEncoder();

async function perOp(count, op) {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    await scheduler.wait(0);
    const start = Date.now();
    for (let i = 0; i < count; i++) await op();
    await scheduler.wait(0);
    best = Math.min(best, Date.now() - start);
  }
  return (best * 1000) / count;
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname !== "/measure" || request.method !== "POST") return new Response("not found", { status: 404 });
    try {
      const p = await request.json();
      const count = Number(url.searchParams.get("count") ?? "3000");
      const options = { algorithms: ["HS256"], issuer: p.issuer, audience: p.audience, requiredClaims: ["exp"], clockTolerance: 30 };
      const hmac = await crypto.subtle.importKey("raw", enc.encode(p.secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
      const [h, pl, s] = p.hs256.split(".");
      const hsInput = enc.encode(`${h}.${pl}`);
      const hsSig = base64url.decode(s);
      const ecKey = await importJWK(p.jwk, "ES256");
      const [eh, epl, es] = p.es256.split(".");
      const esInput = enc.encode(`${eh}.${epl}`);
      const esSig = base64url.decode(es);
      const hsVerifier = new JwtVerifier("bench-hs256", { type: "jwt", issuer: p.issuer, audience: p.audience, algorithms: ["HS256"], secret: { env: "BENCH_JWT_SECRET" }, secretEncoding: "utf8", clockToleranceSec: 30 });
      const env = { BENCH_JWT_SECRET: p.secret };
      const steps = [
        ["hmac-verify", "crypto.subtle.verify HMAC-SHA-256 on prepared bytes", () => crypto.subtle.verify("HMAC", hmac, hsSig, hsInput)],
        ["hmac-verify+decode", "+ TextEncoder of the signing input and base64url decode of the signature", () => crypto.subtle.verify("HMAC", hmac, base64url.decode(s), enc.encode(`${h}.${pl}`))],
        ["decode-claims", "base64url decode + JSON.parse of header and payload (no crypto)", async () => [JSON.parse(new TextDecoder().decode(base64url.decode(h))), JSON.parse(new TextDecoder().decode(base64url.decode(pl)))]],
        ["jose-hs256", "jose jwtVerify HS256 with an imported CryptoKey (claims checks included)", () => jwtVerify(p.hs256, hmac, options)],
        ["verifier-hs256", "src JwtVerifier.verify HS256 (pattern checks, secret from env, jose)", () => hsVerifier.verify(p.hs256, { env })],
        ["ecdsa-verify", "crypto.subtle.verify ECDSA P-256 on prepared bytes", () => crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ecKey, esSig, esInput)],
        ["jose-es256", "jose jwtVerify ES256 with an imported CryptoKey", () => jwtVerify(p.es256, ecKey, { ...options, algorithms: ["ES256"] })],
      ];
      for (const [, , op] of steps) await op(); // throws if a token does not verify
      const out = [];
      for (const [name, what, op] of steps) out.push({ name, what, us: await perOp(count, op) });
      return Response.json(out);
    } catch (err) {
      return Response.json({ error: String(err instanceof Error ? err.stack : err) }, { status: 500 });
    }
  },
};
