// Reads the gateway's KeyStore call counts (lookups, feed polls) for the api-key-quota benchmark.
// It binds the gateway service's KeyStore class, as another isolate of the gateway would.
export default {
  async fetch(_request, env) {
    const store = env.API_KEYS.get(env.API_KEYS.idFromName("keys"));
    return Response.json(await store.stats());
  },
};
