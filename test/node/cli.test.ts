/**
 * The scripts' command lines (tools/cli.ts: node:util parseArgs, strict): an unknown or malformed
 * option stops the script before it does anything, with a message naming the option, the usage, and
 * exit code 2. `npm start` keeps passing flags that are not its own to wrangler dev, in order.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseStartArgs } from "../../scripts/start.ts";

const NODE = join(process.cwd(), "node_modules/.bin/node");
const run = (script: string, ...args: string[]) => {
  const result = spawnSync(NODE, [script, ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};

describe("a script given an option it does not know", () => {
  it.each([
    ["npm run token", "scripts/token.ts", ["--subject", "alice"], "Unknown option '--subject'", "Usage: npm run --silent token"],
    ["npm run bench", "bench/run.ts", ["--onyl", "jwt"], "Unknown option '--onyl'", "Usage: npm run bench"],
    ["npm run bench", "bench/run.ts", ["--only"], "Option '--only <value>' argument missing", "Usage: npm run bench"],
    ["npm start", "scripts/start.ts", ["--fresh=yes"], "Option '--fresh' does not take an argument", "Usage: npm start"],
    ["npm start", "scripts/start.ts", ["--port", "http"], `--port must be a port number (1-65535), not "http"`, "Usage: npm start"],
    ["npm run openapi", "scripts/openapi.ts", ["--servr", "https://api.example.com"], "Unknown option '--servr'", "usage: npm run openapi"],
    ["npm run openapi", "scripts/openapi.ts", ["--out"], "Option '--out <value>' argument missing", "usage: npm run openapi"],
    ["npm run import", "scripts/import.ts", ["api.json", "--origins", "a=https://a.example"], "Unknown option '--origins'", "usage: npm run import"],
    ["npm run import", "scripts/import.ts", ["api.json", "--origin", "a"], `--origin needs NAME=URL, not "a"`, "usage: npm run import"],
  ])("%s %s: names it, prints the usage, exits 2 and does nothing else", (_, script, args, message, usage) => {
    const { status, stdout, stderr } = run(script, ...args);
    expect(stderr).toContain(message);
    expect(stderr).toContain(usage);
    expect(stdout).toBe("");
    expect(status).toBe(2);
  });
});

describe("npm start's options", () => {
  it("keeps its own, in either form, and passes every other flag to wrangler dev in order", () => {
    expect(parseStartArgs(["--var", "A:b", "--routes=t.json", "-e", "staging", "--inspector-port", "9230", "--fresh", "--port", "9000", "--", "--x"]))
      .toEqual({ routes: "t.json", port: 9000, fresh: true, env: "staging", passThrough: ["--var", "A:b", "--inspector-port", "9230", "--", "--x"] });
    expect(parseStartArgs([])).toEqual({ routes: undefined, port: 8787, fresh: false, env: undefined, passThrough: [] });
  });

  it("refuses its own options malformed, by name", () => {
    expect(() => parseStartArgs(["--routes"])).toThrow("Option '--routes <value>' argument missing");
    expect(() => parseStartArgs(["--routes", "--port", "9000"])).toThrow("Option '--routes' argument is ambiguous");
    expect(() => parseStartArgs(["--port", "70000"])).toThrow(`--port must be a port number (1-65535), not "70000"`);
  });
});
