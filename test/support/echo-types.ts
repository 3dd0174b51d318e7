/** What the echo origin answers (see echo-origin.ts); shared by Node and workerd tests. */
export interface Echo {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}
