import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { TEST_JWT_SECRET } from "./test/support/jwt-secret.ts";
import { projectCompatibilityDate } from "./tools/workerd.ts";

const routesAlias = {
  "@edge-gateway/routes": fileURLToPath(new URL("./routes.json", import.meta.url)),
  // Built by the global setup below (test/support/console-setup.ts).
  "@edge-gateway/console": fileURLToPath(new URL("./.gateway/console.js", import.meta.url)),
};

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and integration tests, run inside workerd with the real worker and Durable Objects.
        resolve: { alias: routesAlias },
        plugins: [
          cloudflareTest(({ inject }) => ({
            // workerd's verbose mode logs every failed outbound connection as an "uncaught exception"
            // with a stack, even when the fetch's rejection is handled (probed: a bare
            // `await fetch("http://127.0.0.1:1").catch(() => {})` prints one), so the tests that
            // meet a closed origin on purpose printed three such blocks in a green run. Off, the
            // Worker's own console output still shows, and an unhandled rejection in test or
            // gateway code still fails the run (vitest reports it).
            verbose: false,
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // DEMO_JWT_SECRET: the demo authorizer's secret in the shipped routes.json (test/worker/entry.test.ts).
              bindings: { ECHO_ORIGIN: `http://127.0.0.1:${inject("echoOriginPort")}`, LOG_REQUESTS: "off", ADMIN_TOKEN: "test-admin-token", TEST_JWT_SECRET, DEMO_JWT_SECRET: TEST_JWT_SECRET, MEASURE: process.env.MEASURE ?? "" },
              // A second Worker behind a service binding, for `service` origins (test/worker/upstreams.test.ts).
              serviceBindings: { AUTH_WORKER: "service-worker" },
              workers: [{
                name: "service-worker",
                modules: true,
                scriptPath: fileURLToPath(new URL("./test/support/service-worker.js", import.meta.url)),
                compatibilityDate: projectCompatibilityDate(),
              }],
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts", "test/unit/**/*.test.ts"],
          globalSetup: ["test/support/console-setup.ts", "test/support/echo-origin-setup.ts", "test/support/jwt-jwks-server-setup.ts"],
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
      {
        // Real browsers (headless Chromium, Debian's package) against the bundled gateway on workerd: CORS as
        // browsers enforce it, and the console.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
