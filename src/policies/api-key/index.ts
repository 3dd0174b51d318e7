/**
 * API keys on a route (`auth: { "apiKey": true }`), presented in the table-wide `apiKeys.header`.
 * The key's own plan is enforced by the rate-limit policy, which runs after this one.
 */
import { z } from "zod";
import { isObject } from "../../config/core.ts";
import { definePolicy } from "../../policy.ts";
import { apiKeyAuth, apiKeyErrors } from "./policy.ts";

export { apiKeyAuth, apiKeyErrors, assertUsable } from "./policy.ts";

export const ApiKeysSchema = z.strictObject({
  header: z.string().default("x-api-key").describe("Header carrying the API key. Default x-api-key."),
}).describe("How API keys are presented.");

export const apiKeyPolicy = definePolicy({
  name: "api-key",
  timing: "auth",
  summary: "Requires a valid API key, issued through the admin API and stored as a hash.",
  authFields: { apiKey: z.boolean().optional().describe("Require a valid API key (see apiKeys).") },
  tableFields: { apiKeys: ApiKeysSchema.default({ header: "x-api-key" }) },
  authenticates: (auth) => auth.apiKey === true,
  errors: apiKeyErrors,
  checkRoute({ table, route, issue }) {
    if (!isObject(route.auth) || route.auth.apiKey !== true) return;
    // Keys exist only once the admin API has issued them: without it the route refuses everyone.
    if (table.admin === undefined)
      issue(`API keys are issued through the admin API and the table has no "admin": add "admin": { "token": { "env": "ADMIN_TOKEN" } }`, "auth", "apiKey");
  },
  // The key is the gateway's credential: no origin gets one, not even behind a public route.
  originHeaders: (table) => (table.routes.some((route) => route.auth !== "none" && route.auth.apiKey === true) ? [table.apiKeys.header] : []),
  withheld: (route, table) => (route.auth !== "none" && route.auth.apiKey === true ? { headers: [table.apiKeys.header] } : {}),
  create: (route, table) => (route.auth !== "none" && route.auth.apiKey === true ? apiKeyAuth(table.apiKeys.header) : undefined),
});
