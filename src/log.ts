/**
 * One structured JSON line per request on stdout, which `wrangler tail` and Workers Logs show as-is.
 * Never logs headers, query strings or bodies (tokens and keys travel there).
 */
export interface RequestLog {
  time: string;
  requestId: string;
  routeId: string | null;
  method: string;
  path: string;
  status: number;
  code?: string;
  origin: string | null;
  originMs: number | null;
  /** Origins with targets: the target that answered; each retry (target and outcome); a retry not made and why. */
  target?: string;
  retries?: { target: string; outcome: number | string }[];
  retryDenied?: string;
  totalMs: number;
}

export function logRequest(line: RequestLog): void {
  console.log(JSON.stringify(line));
}
