/**
 * The admin token, for this tab only: sessionStorage, never a cookie, localStorage or the URL. It
 * is gone when the tab closes, and no other site can make the browser send it (it travels only in
 * the Authorization header this script sets).
 */
const KEY = "gateway-admin-token";

export const session = {
  token(): string | null {
    try { return sessionStorage.getItem(KEY); } catch { return null; }
  },
  signIn(token: string): void {
    sessionStorage.setItem(KEY, token);
  },
  signOut(): void {
    try { sessionStorage.removeItem(KEY); } catch { /* storage unavailable: nothing stored */ }
  },
};
