/** Reaching the KeyStore from the Worker, with the same retry rule as the counters. */
import type { KeyStore } from "./durable_object.ts";
import { KEY_STORE_NAME } from "./durable_object.ts";
import { callWithOneRetry } from "../../durable.ts";

export type KeyStoreNamespace = DurableObjectNamespace<KeyStore>;

const LOOKUP_TIMEOUT_MS = 2_000;

export function keyStore(ns: KeyStoreNamespace): DurableObjectStub<KeyStore> {
  return ns.get(ns.idFromName(KEY_STORE_NAME));
}

/** Runs `call` on a KeyStore stub under the Durable Object call rule of src/durable.ts. */
export async function withKeyStore<T>(ns: KeyStoreNamespace, call: (store: DurableObjectStub<KeyStore>) => Promise<T>): Promise<T> {
  return callWithOneRetry(() => call(keyStore(ns)), LOOKUP_TIMEOUT_MS);
}

/** One JSON line for the operator when a store or counter cannot answer (never the key: callers pass errors only). */
export function logFailure(requestId: string | undefined, code: string, err: unknown): void {
  console.error(JSON.stringify({ requestId: requestId ?? null, code, error: err instanceof Error ? err.message : String(err) }));
}
