/**
 * docs/tutorial.md, run as a reader would run it: its `sh` blocks in order, in a fresh copy of this
 * checkout (the files git would clone, node_modules linked: the clone-and-install block is the one
 * skipped), against a real `npm start`. Under each block, the `text` block shows what the reader
 * should see; the test holds the output to its status lines (`HTTP/1.1 200 OK`, or a bare `429`)
 * and error codes (`"code":"rate_limited"`), in order. The rest of a shown body is illustrative.
 *
 * HTML comments before a block say how to run it: `tutorial-test: server` starts it in the
 * background, as the first terminal (stopping one already running) and waits for the gateway;
 * `reload` waits for the gateway to reload the table after it; `skip` skips it. The only changes
 * made to the commands are the ports: the gateway's 8787 and the demo origins' 9001-9002 become
 * free ones, so the test can run beside another gateway.
 */
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/gateway-process.ts";

export interface Step {
  /** The shell commands of the block. */
  commands: string;
  /** How the test runs it (the HTML comment before the block). */
  mode: "run" | "server" | "reload" | "skip";
  /** The `text` block under it, if any: what the reader should see. */
  expected: string | undefined;
  /** Line of the block in the page, for failure messages. */
  line: number;
}

/** The page's `sh` blocks, with their marks and the output shown under them. */
export function tutorialSteps(markdown: string): Step[] {
  const lines = markdown.split("\n");
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```sh") continue;
    const end = lines.indexOf("```", i + 1);
    const mark = /^<!-- tutorial-test: (server|reload|skip)\b/.exec(lines[i - 1] ?? "");
    let expected: string | undefined;
    let next = end + 1;
    while (lines[next] !== undefined && lines[next]!.trim() === "") next++;
    if (lines[next] === "```text") {
      const close = lines.indexOf("```", next + 1);
      expected = lines.slice(next + 1, close).join("\n");
    }
    steps.push({ commands: lines.slice(i + 1, end).join("\n"), mode: (mark?.[1] as Step["mode"]) ?? "run", expected, line: i + 1 });
    i = end;
  }
  return steps;
}

/** What the test holds a command's output to: status lines, bare status codes and error codes. */
export function checkedLines(expected: string): string[] {
  return expected.split("\n").flatMap((line) => {
    const status = /^HTTP\/1\.1 \d{3}\b/.exec(line);
    if (status) return [status[0]];
    if (/^\d{3}$/.test(line.trim())) return [line.trim()];
    return [...line.matchAll(/"code":"([a-z_]+)"/g)].map((m) => `"code":"${m[1]}"`);
  });
}

const REPO = process.cwd();
const page = readFileSync(join(REPO, "docs/tutorial.md"), "utf8");

describe("docs/tutorial.md", () => {
  const steps = tutorialSteps(page);
  let dir: string;
  let ports: { gateway: number; users: number; orders: number };
  let server: { child: ChildProcessWithoutNullStreams; output: () => string } | undefined;
  let shell: ChildProcessWithoutNullStreams;
  let shellOutput = "";

  const withPorts = (text: string) => text
    .replaceAll("127.0.0.1:8787", `127.0.0.1:${ports.gateway}`)
    .replaceAll("127.0.0.1:9001", `127.0.0.1:${ports.users}`)
    .replaceAll("127.0.0.1:9002", `127.0.0.1:${ports.orders}`)
    .replace(/^npm start( --)?/m, `npm start -- --port ${ports.gateway}`);

  async function until(output: () => string, pattern: RegExp, from: number, what: string, ms = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = pattern.exec(output().slice(from));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`${what}: no ${pattern} after ${ms} ms. Gateway output:\n${server?.output() ?? ""}\nShell output:\n${shellOutput}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function stopServer(): Promise<void> {
    if (!server || server.child.exitCode !== null) return;
    const exited = new Promise((resolve) => server!.child.once("exit", resolve));
    try { process.kill(-server.child.pid!, "SIGINT"); } catch { /* gone */ }
    await exited;
  }

  beforeAll(async () => {
    // A fresh clone: the files git tracks (and new ones not ignored), not .dev.vars or .wrangler/.
    dir = mkdtempSync(join(tmpdir(), "tutorial-"));
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: REPO, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const file of files) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      try { cpSync(join(REPO, file), join(dir, file)); } catch { /* deleted in the work tree */ }
    }
    symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
    ports = { gateway: await freePort(), users: await freePort(), orders: await freePort() };
    writeFileSync(join(dir, "routes.json"), withPorts(readFileSync(join(dir, "routes.json"), "utf8")));
    shell = spawn("bash", ["--norc", "--noprofile"], { cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
    shell.stdout.on("data", (c) => { shellOutput += c; });
    shell.stderr.on("data", (c) => { shellOutput += c; });
  }, 30_000);

  afterAll(async () => {
    await stopServer();
    shell?.kill();
    try { unlinkSync(join(dir, "node_modules")); } catch { /* not made */ }
    rmSync(dir, { recursive: true, force: true });
  });

  it("has steps to run, each server step followed by checked output", () => {
    expect(steps.filter((s) => s.mode === "server")).toHaveLength(2);
    expect(steps.filter((s) => s.mode === "reload")).toHaveLength(3);
    expect(steps.filter((s) => s.expected !== undefined && checkedLines(s.expected).length > 0).length).toBeGreaterThanOrEqual(9);
  });

  it("runs from a fresh clone to a 429, every command as written", async () => {
    let n = 0;
    for (const step of steps) {
      if (step.mode === "skip") continue;
      const commands = withPorts(step.commands);
      if (step.mode === "server") {
        await stopServer();
        const child = spawn("bash", ["-c", commands], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, detached: true });
        let output = "";
        child.stdout.on("data", (c) => { output += c; });
        child.stderr.on("data", (c) => { output += c; });
        server = { child, output: () => output };
        await until(server.output, /Edge Gateway is running/, 0, `docs/tutorial.md:${step.line}`);
        continue;
      }
      const serverMark = server?.output().length ?? 0;
      const mark = shellOutput.length;
      const done = `__step_${++n}_done__`;
      shell.stdin.write(`${commands}\necho "${done} $?"\n`);
      await until(() => shellOutput, new RegExp(`${done} \\d+`), mark, `docs/tutorial.md:${step.line}`);
      const output = shellOutput.slice(mark, shellOutput.indexOf(done, mark));
      if (step.mode === "reload") {
        const reload = await until(server!.output, /Edge Gateway (reloaded|still serves the last valid)/, serverMark, `docs/tutorial.md:${step.line}`);
        expect(reload[1], `docs/tutorial.md:${step.line}: the table was refused:\n${server!.output().slice(serverMark)}`).toBe("reloaded");
      }
      if (step.expected === undefined) continue;
      // Each checked line, in order: status lines, bare codes from a loop, error codes.
      let at = 0;
      for (const wanted of checkedLines(step.expected)) {
        const found = output.indexOf(wanted, at);
        expect(found, `docs/tutorial.md:${step.line}: "${wanted}" not in the output (in order):\n${output}`).toBeGreaterThanOrEqual(0);
        at = found + wanted.length;
      }
    }
  }, 240_000);
});
