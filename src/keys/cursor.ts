/** Cursors are opaque to clients: `k` + the last row's sequence number, base64url. */
export function encodeCursor(seq: number): string {
  return btoa(`k${seq}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function decodeCursor(cursor: string | null): number | null {
  if (!cursor) return null;
  try {
    const match = /^k(\d{1,15})$/.exec(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}
