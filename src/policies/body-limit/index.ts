/**
 * Request body limits (`maxBodyBytes` on a route, `defaults.maxBodyBytes` table-wide), enforced
 * while the body streams (policy.ts). A route's own value wins over the default.
 */
import { z } from "zod";
import { definePolicy } from "../../policy.ts";
import { bodyLimit, bodyLimitErrors } from "./policy.ts";

export { bodyLimit, bodyLimitErrors } from "./policy.ts";

/** 1 TiB: far above any platform's request size; the field exists to set a lower one. */
export const MAX_BODY_BYTES = 2 ** 40;

const MaxBodyBytes = z.number().int().min(0).max(MAX_BODY_BYTES);

export const bodyLimitPolicy = definePolicy({
  name: "body-limit",
  summary: "Refuses request bodies over a size with 413, from Content-Length at once or while a chunked body streams.",
  routeFields: {
    maxBodyBytes: MaxBodyBytes.optional()
      .describe("Largest request body in bytes (replaces defaults.maxBodyBytes). Over it: 413 payload_too_large, at once from Content-Length, or as soon as a chunked body crosses it."),
  },
  defaultsFields: {
    maxBodyBytes: MaxBodyBytes.optional().describe("Largest request body in bytes on every route without its own maxBodyBytes."),
  },
  errors: bodyLimitErrors,
  create(route, table) {
    const limit = route.maxBodyBytes ?? table.defaults?.maxBodyBytes;
    return limit === undefined ? undefined : bodyLimit(limit);
  },
});
