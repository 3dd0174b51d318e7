/**
 * Writes routes.schema.json from the zod schema (`npm run schema`). A test fails when the committed
 * file differs from what this produces, so the published schema cannot drift from the validator.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { RouteTableSchema } from "../src/config/index.ts";

export const SCHEMA_FILE = fileURLToPath(new URL("../routes.schema.json", import.meta.url));

export function generateJsonSchema(): string {
  const schema = z.toJSONSchema(RouteTableSchema, { io: "input", unrepresentable: "any", target: "draft-2020-12" });
  return JSON.stringify({ ...schema, title: "Edge Gateway route table" }, null, 2) + "\n";
}

if (import.meta.main) {
  writeFileSync(SCHEMA_FILE, generateJsonSchema());
  console.log("wrote routes.schema.json");
}
