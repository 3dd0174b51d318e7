import type { TestProject } from "vitest/node";
import { startEchoOrigin } from "./echo-origin.ts";

declare module "vitest" {
  export interface ProvidedContext { echoOriginPort: number }
}

export default async function setup(project: TestProject) {
  const origin = await startEchoOrigin();
  project.provide("echoOriginPort", origin.port);
  return () => new Promise<void>((resolve) => { origin.server.closeAllConnections(); origin.server.close(() => resolve()); });
}
