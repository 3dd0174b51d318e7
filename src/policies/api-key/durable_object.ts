import { DurableObject } from "cloudflare:workers";

/** API key records, stored by SHA-256 hash (issue 4). Stub until implemented. */
export class KeyStore extends DurableObject {}
