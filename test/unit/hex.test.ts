/** Hex text of bytes and of SHA-256 digests (src/hex.ts). */
import { describe, expect, it } from "vitest";
import { hex, sha256Hex } from "../../src/hex.ts";

describe("hex", () => {
  it("writes each byte as two lowercase digits, over the range asked", () => {
    const bytes = new Uint8Array([0, 1, 0x0f, 0x10, 0xab, 0xff]);
    expect(hex(bytes)).toBe("00010f10abff");
    expect(hex(bytes, 2, 5)).toBe("0f10ab");
  });

  it("gives the SHA-256 of the UTF-8 text (FIPS 180-2 'abc'), whole or its first bytes", async () => {
    const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    expect(await sha256Hex("abc")).toBe(abc);
    expect(await sha256Hex("abc", 16)).toBe(abc.slice(0, 32));
    expect(await sha256Hex("é")).toBe(await sha256Hex("\u00e9"));
    expect(await sha256Hex("é")).not.toBe(await sha256Hex("e\u0301")); // no normalization: exact bytes
  });
});
