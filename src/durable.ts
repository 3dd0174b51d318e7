/**
 * The one rule for calling a Durable Object on a request's hot path (the quota counters and the
 * key store): each attempt gets a fresh stub (a stub is broken after an exception) and a time limit;
 * a failed or timed-out attempt is retried once, unless the object said it is overloaded (the
 * platform says retrying an overloaded object only adds load). The last error is thrown for the
 * caller's failure mode.
 */

/** Rejects after `ms`; the late outcome of `promise` is then ignored. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); });
  promise.catch(() => {}); // a late failure after the timeout is expected and already handled
  return Promise.race([promise, timeout]).finally(() => { if (timer !== undefined) clearTimeout(timer); });
}

export async function callWithOneRetry<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  try {
    return await withTimeout(attempt(), timeoutMs);
  } catch (err) {
    if ((err as { overloaded?: unknown } | null)?.overloaded === true) throw err;
    return await withTimeout(attempt(), timeoutMs);
  }
}

/**
 * Resolves when `promise` settles or after `ms`, whichever is first; never rejects. For requests
 * that share another request's call in flight: that request may end first (PLATFORM.md, request
 * context), so a waiter waits at most the call's worst case and then acts on its own.
 */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise.then(() => undefined, () => undefined),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); }),
  ]);
  if (timer !== undefined) clearTimeout(timer);
}
