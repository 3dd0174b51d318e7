declare namespace Cloudflare {
  interface Env {
    ECHO_ORIGIN: string;
    LOG_REQUESTS?: string;
    ADMIN_TOKEN: string;
    /** The second Worker (test/support/service-worker.js) behind a service binding, for `service` origins. */
    AUTH_WORKER: Fetcher;
    QUOTA: DurableObjectNamespace<import("../src/quota/durable_object.ts").QuotaCounter>;
    API_KEYS: DurableObjectNamespace<import("../src/policies/api-key/durable_object.ts").KeyStore>;
  }
}
