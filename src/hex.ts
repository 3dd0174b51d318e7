/**
 * Lowercase hex of bytes, and of a SHA-256, for every id and digest the gateway writes as text
 * (trace ids, API key hashes, cache vary segments, hashed subjects in the log). Formatting by table
 * is what made hashApiKey go from 3.0 to 2.3 us a call in workerd (test/worker/api-key-measure.test.ts).
 */

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));
const UTF8 = new TextEncoder();

/** Hex of `bytes[from..to)`. */
export function hex(bytes: Uint8Array, from = 0, to = bytes.length): string {
  let out = "";
  for (let i = from; i < to; i++) out += HEX_BYTE[bytes[i]!];
  return out;
}

/** Hex of the SHA-256 of `text`'s UTF-8 bytes, its first `bytes` bytes (all 32 by default). */
export async function sha256Hex(text: string, bytes = 32): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", UTF8.encode(text))), 0, bytes);
}
