/**
 * The API key service's error codes, declared once here: the api-key policy, the rate-limit policy
 * (which counts keys) and the admin API all refuse with these, so a client sees one code with one
 * meaning wherever the key was needed or the KeyStore failed.
 */
import { defineErrors } from "../errors.ts";

export const keyErrors = defineErrors("keys", {
  api_key_missing: { status: 401, meaning: "The route needs an API key and the request has none in the configured header." },
  key_store_unavailable: { status: 503, meaning: "API keys cannot be checked right now (the KeyStore did not answer after one retry); `Retry-After` says when to retry." },
});
