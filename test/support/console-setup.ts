/**
 * Global setup of the worker tests: builds the console's module (.gateway/console.js), which the
 * Worker imports as @edge-gateway/console, as wrangler.toml's [build] step does for wrangler.
 * So `npm test` works from a clean clone.
 */
import { buildConsole, CONSOLE_MODULE } from "../../tools/console.ts";

export default async function setup(): Promise<void> {
  await buildConsole(CONSOLE_MODULE);
}
