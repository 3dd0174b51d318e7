declare namespace Cloudflare {
  interface Env {
    ECHO_ORIGIN: string;
    LOG_REQUESTS?: string;
    ADMIN_TOKEN: string;
    QUOTA: DurableObjectNamespace<import("../src/quota/durable_object.ts").QuotaCounter>;
    API_KEYS: DurableObjectNamespace<import("../src/policies/api-key/durable_object.ts").KeyStore>;
  }
}
