/**
 * The KeyStore's client: every call from the Worker to the object goes through here, under the
 * Durable Object call rule of src/durable.ts (fresh stub, time limit, one retry unless overloaded).
 */
import { callWithOneRetry } from "../durable.ts";
import type { KeyStore } from "./durable_object.ts";

/** The one KeyStore object (see durable_object.ts: sharding). */
export const KEY_STORE_NAME = "keys";

export type KeyStoreNamespace = DurableObjectNamespace<KeyStore>;

/** One attempt's time limit for a call on the hot path (a lookup or a feed poll). */
export const LOOKUP_TIMEOUT_MS = 2_000;

export function keyStore(ns: KeyStoreNamespace): DurableObjectStub<KeyStore> {
  return ns.get(ns.idFromName(KEY_STORE_NAME));
}

/** Runs `call` on a KeyStore stub under the Durable Object call rule of src/durable.ts. */
export async function withKeyStore<F extends (store: DurableObjectStub<KeyStore>) => Promise<unknown>>(ns: KeyStoreNamespace, call: F): Promise<Awaited<ReturnType<F>>> {
  return callWithOneRetry(() => call(keyStore(ns)) as Promise<Awaited<ReturnType<F>>>, LOOKUP_TIMEOUT_MS);
}
