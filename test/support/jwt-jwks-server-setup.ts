import type { TestProject } from "vitest/node";
import { startJwksServer } from "./jwt-jwks-server.ts";

declare module "vitest" {
  export interface ProvidedContext { jwksServerPort: number }
}

export default async function setup(project: TestProject) {
  const { server, port } = await startJwksServer();
  project.provide("jwksServerPort", port);
  return () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
}
