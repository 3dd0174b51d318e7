declare namespace Cloudflare {
  interface Env {
    ECHO_ORIGIN: string;
    /** "1" under `npm run measure`: timing reports run (never in npm test). */
    MEASURE: string;
    LOG_REQUESTS?: string;
    ADMIN_TOKEN: string;
    /** The second Worker (test/support/service-worker.js) behind a service binding, for `service` origins. */
    AUTH_WORKER: Fetcher;
  }
}
