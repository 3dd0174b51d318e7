/**
 * The quota service's error codes, declared once here: the rate-limit policy and the admin API's
 * usage endpoints both refuse with these, so a client sees one code with one meaning.
 */
import { defineErrors } from "../errors.ts";

export const quotaErrors = defineErrors("quota", {
  plan_unknown: { status: 403, meaning: "The key's plan is not configured in this gateway's route table." },
  limiter_unavailable: { status: 503, meaning: "The counter did not answer after one retry and the plan fails closed; `Retry-After` says when to retry." },
});
