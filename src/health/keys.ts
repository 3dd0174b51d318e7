/**
 * How a target is named on the health board: by its origin and its address, so the checker (which
 * reads the route table) and the isolates (which compiled it) agree without sharing any state, and
 * a target that moves to another URL starts afresh.
 */
export function healthKey(origin: string, target: { url?: string | undefined; service?: string | undefined }): string {
  return target.service !== undefined ? `${origin} service:${target.service}` : `${origin} ${target.url}`;
}
