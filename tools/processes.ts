/**
 * Child processes of a bench run or an end-to-end test (workerd, origins, wrangler). Every child is
 * registered here; installCleanup() (the bench's entry point calls it) kills them all when the run
 * ends: normally, on an error, or on Ctrl-C / SIGTERM. A child that dies early rejects
 * whoever waits on it with the tail of its stderr, so a broken config fails the run loudly.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";

const children = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
}

/** Kills every child on exit, error and signals. Called once by the entry point. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping children`);
      killAll();
      process.exit(130);
    });
  }
  process.on("uncaughtException", (err: unknown) => {
    console.error("bench failed:", err);
    killAll();
    process.exit(1);
  });
  process.on("unhandledRejection", (err: unknown) => {
    console.error("bench failed:", err);
    killAll();
    process.exit(1);
  });
}

export interface Child {
  process: ChildProcess;
  /** The last lines the child wrote on stderr (and stdout when it is not read by the caller). */
  tail(): string;
  /** Resolves when the child exits (any code). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const TAIL_BYTES = 8192;

/**
 * Spawns a tracked child. stdout/stderr are drained into a bounded tail (a full pipe would block
 * the child, e.g. workerd writing one log line per request).
 */
export function startChild(command: string, args: string[], options: SpawnOptions & { keepStdout?: boolean } = {}): Child {
  const { keepStdout, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...spawnOptions });
  children.add(child);
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
  };
  child.stderr?.on("data", keep);
  if (!keepStdout) child.stdout?.on("data", keep);
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      children.delete(child);
      resolve(code);
    });
    child.on("error", (err) => {
      keep(Buffer.from(String(err)));
      children.delete(child);
      resolve(null);
    });
  });
  return {
    process: child,
    tail: () => tail,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs a command to completion; rejects with its output when it fails. */
export async function runCommand(command: string, args: string[], options: SpawnOptions = {}): Promise<string> {
  const child = startChild(command, args, { ...options, keepStdout: false });
  const code = await child.exited;
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}:\n${child.tail()}`);
  return child.tail();
}

/** Rejects if `child` exits before `promise` settles, or when `ms` passes. */
export async function whileAlive<T>(child: Child, what: string, promise: Promise<T>, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      child.exited.then((code) => {
        throw new Error(`${what}: process exited (${code}) before it was ready:\n${child.tail()}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not ready after ${ms} ms:\n${child.tail()}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
