/** The HMAC secret bound as TEST_JWT_SECRET in the worker test project (vitest.config.ts). */
export const TEST_JWT_SECRET = "test-only-hmac-secret-0123456789abcdef-0123456789abcdef";
