import { DurableObject } from "cloudflare:workers";

/** Atomic check-and-consume for one counted identity (issue 4). Stub until implemented. */
export class QuotaCounter extends DurableObject {}
