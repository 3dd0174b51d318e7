/**
 * Worker secrets the table names, checked once per isolate. In Workers a secret is readable only
 * from `env`, which the global scope does not get, so the check runs on the isolate's first request
 * (`checkOnce`), and each secret that is not set is reported by name, with what it breaks, as one
 * `secret_missing` warning: "ADMIN_TOKEN is not set: the admin API is off". Never the value.
 *
 * Who needs which secret is declared by its owner (a policy's `secrets(table)`, the admin API's
 * `adminSecrets`); this module only collects, checks and reports, so the core names no capability.
 */
import { logEvent } from "./errors.ts";
import type { RequiredSecret } from "./policy.ts";

export type { RequiredSecret };

/** "JWT secret INTERNAL_JWT_SECRET is not set: routes a, b answer 503" */
export function secretMessage(secret: RequiredSecret): string {
  return `${secret.kind ? `${secret.kind} ` : ""}${secret.name} is not set: ${secret.consequence}`;
}

/** The secrets of `required` that `env` does not hold as a non-empty string. */
export function missingSecrets(required: readonly RequiredSecret[], env: Record<string, unknown> | undefined): RequiredSecret[] {
  return required.filter((secret) => {
    const value = env?.[secret.name];
    return typeof value !== "string" || value === "";
  });
}

/**
 * A check that reports the missing secrets on its first call and does nothing after: the app calls
 * it on every request; in production the app is built once per isolate, so this is once per isolate.
 */
export function secretsCheck(required: readonly RequiredSecret[]): (env: Record<string, unknown> | undefined) => void {
  let checked = required.length === 0;
  return function checkOnce(env) {
    if (checked) return;
    checked = true;
    for (const secret of missingSecrets(required, env))
      logEvent("warn", "secret_missing", { secret: secret.name, message: secretMessage(secret) });
  };
}
