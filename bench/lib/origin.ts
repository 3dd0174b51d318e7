/** Starts the bench origin (origin-server.ts) as a tracked child and waits for its port. */
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { startChild, whileAlive, type Child } from "../../tools/processes.ts";

export interface Origin {
  url: string;
  port: number;
  child: Child;
}

export async function startOrigin(env: Record<string, string> = {}): Promise<Origin> {
  const script = fileURLToPath(new URL("./origin-server.ts", import.meta.url));
  const child = startChild(process.execPath, [script], {
    stdio: ["pipe", "pipe", "pipe"],
    keepStdout: true,
    env: { ...process.env, ...env },
  });
  const port = await whileAlive(child, "origin", (async () => {
    let buffered = "";
    const stdout = child.process.stdout!;
    while (!buffered.includes("\n")) {
      const [chunk] = (await once(stdout, "data")) as [Buffer];
      buffered += chunk.toString("utf8");
    }
    return (JSON.parse(buffered.slice(0, buffered.indexOf("\n"))) as { port: number }).port;
  })(), 10_000);
  child.process.stdout!.resume();
  return { url: `http://127.0.0.1:${port}`, port, child };
}
