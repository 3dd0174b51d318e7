/** Bounds of the purge service, shared by the object and its client. */

/** How old an isolate's view of purges may be: a purge reaches every isolate within this (plus one call). */
export const PURGE_CHECK_MS = 5_000;
/** Path generations kept at once; a path purge beyond that purges the whole route. */
export const MAX_PATHS = 2_000;
