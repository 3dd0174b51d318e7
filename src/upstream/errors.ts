/** Error codes of resilient origins (targets, circuit breakers, health checks). */
import { defineErrors } from "../errors.ts";

export const upstreamErrors = defineErrors("upstream", {
  origin_unavailable: { status: 503, meaning: "Every target of the origin is out (circuit open after repeated failures, or failing health checks): answered at once, without trying; `Retry-After` says when to try again." },
});
