// The baseline for the pass-through benchmark: the least a Worker can do to proxy a request.
// Fetches the origin (text binding ORIGIN, "http://127.0.0.1:PORT") with the same path, query,
// method, headers and body, and returns its response as-is.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: "manual",
    });
  },
};
