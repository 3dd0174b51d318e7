import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { TEST_JWT_SECRET } from "./test/support/jwt-secret.ts";

const routesAlias = { "@edge-gateway/routes": fileURLToPath(new URL("./routes.json", import.meta.url)) };

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and integration tests, run inside workerd with the real worker and Durable Objects.
        resolve: { alias: routesAlias },
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { ECHO_ORIGIN: `http://127.0.0.1:${inject("echoOriginPort")}`, LOG_REQUESTS: "off", ADMIN_TOKEN: "test-admin-token", TEST_JWT_SECRET },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts", "test/unit/**/*.test.ts"],
          globalSetup: ["test/support/echo-origin-setup.ts", "test/support/jwt-jwks-server-setup.ts"],
        },
      },
      {
        // Config tooling and end-to-end tests: Node processes, real sockets on loopback.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts", "test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
