/**
 * API keys on a route (`auth: { "apiKey": true }`, or `{ "apiKey": { "scopes": [...] } }` for keys
 * that carry those scopes), presented in the table-wide `apiKeys.header`. The key's own plan is
 * enforced by the rate-limit policy, which runs after this one.
 */
import { z } from "zod";
import { isObject } from "../../config/core.ts";
import { SCOPE_TOKEN } from "../../keys/index.ts";
import { definePolicy } from "../../policy.ts";
import { apiKeyAuth, apiKeyErrors, requiredKeyScopes } from "./policy.ts";

export { apiKeyAuth, apiKeyErrors, assertUsable, requiredKeyScopes } from "./policy.ts";

const ApiKeyRequirement = z.union([
  z.boolean(),
  z.strictObject({
    scopes: z.array(z.string().regex(SCOPE_TOKEN, "must be a scope token: 1-128 printable ASCII characters without space, \" or \\"))
      .min(1, "must list at least one scope (write `true` to admit any valid key)")
      .describe("Scopes the key must carry, all of them (set with the admin API)."),
  }),
]);

export const ApiKeysSchema = z.strictObject({
  header: z.string().default("x-api-key").describe("Header carrying the API key. Default x-api-key."),
}).describe("How API keys are presented.");

export const apiKeyPolicy = definePolicy({
  name: "api-key",
  timing: "auth",
  summary: "Requires a valid API key, issued through the admin API and stored as a hash.",
  authFields: {
    apiKey: ApiKeyRequirement.optional()
      .describe("Require a valid API key (see apiKeys): `true` for any key, `{ \"scopes\": [...] }` for keys carrying all of those scopes."),
  },
  tableFields: { apiKeys: ApiKeysSchema.default({ header: "x-api-key" }) },
  authenticates: (auth) => requiredKeyScopes(auth) !== null,
  errors: apiKeyErrors,
  checkRoute({ table, route, issue }) {
    if (!isObject(route.auth) || route.auth.apiKey !== true) return;
    // Keys exist only once the admin API has issued them: without it the route refuses everyone.
    if (table.admin === undefined)
      issue(`API keys are issued through the admin API and the table has no "admin": add "admin": { "token": { "env": "ADMIN_TOKEN" } }`, "auth", "apiKey");
  },
  // The key is the gateway's credential: no origin gets one, not even behind a public route.
  originHeaders: (table) => (table.routes.some((route) => route.auth !== "none" && requiredKeyScopes(route.auth) !== null) ? [table.apiKeys.header] : []),
  withheld: (route, table) => (route.auth !== "none" && requiredKeyScopes(route.auth) !== null ? { headers: [table.apiKeys.header] } : {}),
  create(route, table) {
    const scopes = route.auth === "none" ? null : requiredKeyScopes(route.auth);
    return scopes === null ? undefined : apiKeyAuth(table.apiKeys.header, scopes);
  },
});
