/**
 * The route-table schema of this gateway: the core's fields and checks merged with those of every
 * policy in src/policies/index.ts. Runtime validation (`npm run check`, the build step, startup),
 * the TypeScript type and routes.schema.json (`npm run schema`) all come from here.
 */
import type { z } from "zod";
import { POLICIES } from "../policies/index.ts";
import { buildTableSchema } from "./assemble.ts";
import type { CoreRoute, CoreTable } from "./core.ts";

export const RouteTableSchema = buildTableSchema(POLICIES);

export type RouteTableInput = z.input<typeof RouteTableSchema>;
/**
 * A validated table. The core's fields are typed here; each policy types its own fields in its
 * folder (src/policy.ts: PolicyRoute, PolicyTable), so this file need not know them.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Route = CoreRoute & { [policyField: string]: any };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RouteTable = Omit<CoreTable, "routes"> & { routes: Route[]; [policyField: string]: any };
