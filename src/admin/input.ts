/**
 * Admin input: JSON bodies and queries through `hono/validator` with the zod schemas, bodies capped
 * by `hono/body-limit`. One rule for every endpoint: a body needs Content-Type: application/json
 * (415), must parse (400 invalid_json) and match its schema (400 invalid_request, every problem
 * listed); an empty body is allowed only where the endpoint says so.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { validator } from "hono/validator";
import type { z } from "zod";
import { issueMessage, jsonPath } from "../config/messages.ts";
import type { GatewayEnv } from "../context.ts";
import { coreErrors, GatewayError } from "../errors.ts";

export function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input, { error: issueMessage });
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? jsonPath(i.path) : "(body)"}: ${i.message}`);
  throw coreErrors.invalid_request(problems.join("; "));
}

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

/**
 * A JSON body matching `schema`, at most `maxBytes` (413 payload_too_large, counted while reading).
 * With `optional`, a request without a body reads as `{}`.
 */
export function jsonBody<S extends z.ZodType>(schema: S, options: { maxBytes: number; optional?: boolean }) {
  const limit = bodyLimit({
    maxSize: options.maxBytes,
    onError: () => { throw coreErrors.payload_too_large(`The body may be at most ${options.maxBytes} bytes.`); },
  });
  // Typed here once: Hono's validator types its output from the function, which returns unknown-ish zod output.
  const validate = validator("json", (value: unknown) => parse(schema, value) as object) as unknown as MiddlewareHandler<GatewayEnv>;
  const middleware: MiddlewareHandler<GatewayEnv> = async (c, next) => {
    const empty = c.req.raw.body === null || c.req.header("content-length") === "0";
    if (empty && options.optional) {
      c.req.addValidatedData("json", parse(schema, {}) as object);
      return next();
    }
    if (!JSON_TYPE.test(c.req.header("content-type") ?? "")) throw coreErrors.unsupported_media_type("Send a JSON body with Content-Type: application/json.");
    return limit(c, async () => {
      try {
        await validate(c, next);
      } catch (err) {
        // hono/validator's own refusal is the unparsable body; anything of ours passes through.
        if (err instanceof HTTPException && !(err instanceof GatewayError)) throw coreErrors.invalid_json("The body is not valid JSON.");
        throw err;
      }
    });
  };
  return middleware as MiddlewareHandler<GatewayEnv, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }>;
}

/** A query matching `schema`. */
export function queryOf<S extends z.ZodType>(schema: S) {
  return validator("query", (value: unknown) => parse(schema, value)) as MiddlewareHandler<GatewayEnv, string, { in: { query: Record<string, string> }; out: { query: z.output<S> } }>;
}
