import { z } from "zod";
import { headerName } from "../../config/common.ts";
import { GATEWAY_OWNED_RESPONSE_HEADERS, HEADER_VALUE } from "../../config/core.ts";

const NULL_BODY_STATUSES = [204, 205, 304];

export const RespondSchema = z.strictObject({
  status: z.number().int().min(200).max(599).default(200).describe("Status code of the answer (200-599). Default 200."),
  headers: z.record(headerName, z.string().regex(HEADER_VALUE, "must be visible ASCII (no line breaks)")).optional()
    .describe("Response headers of the answer."),
  json: z.unknown().optional().describe("A JSON value sent as the body (Content-Type application/json unless headers set one)."),
  body: z.string().optional().describe("A text body (Content-Type text/plain unless headers set one)."),
}).superRefine((respond, ctx) => {
  if (respond.json !== undefined && respond.body !== undefined) ctx.addIssue({ code: "custom", path: ["body"], message: "use json or body, not both" });
  if ((respond.json !== undefined || respond.body !== undefined) && NULL_BODY_STATUSES.includes(respond.status))
    ctx.addIssue({ code: "custom", path: ["status"], message: `a ${respond.status} answer has no body: remove json/body or use another status` });
  for (const name of Object.keys(respond.headers ?? {})) {
    if ((GATEWAY_OWNED_RESPONSE_HEADERS as readonly string[]).includes(name))
      ctx.addIssue({ code: "custom", path: ["headers", name], message: `"${name}" is managed by the gateway and cannot be set` });
  }
});
export type RespondConfig = z.output<typeof RespondSchema>;
