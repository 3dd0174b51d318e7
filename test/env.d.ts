declare namespace Cloudflare {
  interface Env {
    ECHO_ORIGIN: string;
    LOG_REQUESTS?: string;
    ADMIN_TOKEN: string;
  }
}
