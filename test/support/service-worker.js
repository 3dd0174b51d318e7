// A second Worker for service-binding origins (the worker test pool's AUTH_WORKER and the e2e
// workerd config): it answers with what it received, as JSON, and behaves as request headers ask:
//   x-service-delay: ms     wait before answering
//   x-service-status: code  answer with this status
// GET /healthz answers with the status last set by POST /health-status?status=N (default 200), so
// tests can make its health checks fail and pass.
let healthStatus = 200;
let hits = 0;

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("health", { status: healthStatus });
    if (url.pathname === "/health-status") {
      healthStatus = Number(url.searchParams.get("status") ?? 200);
      return new Response("set");
    }
    if (url.pathname === "/hits") return Response.json({ hits });
    hits++;
    const delay = Number(request.headers.get("x-service-delay") ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const body = request.body ? await request.text() : "";
    return Response.json({
      worker: "service",
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body,
    }, { status: Number(request.headers.get("x-service-status") ?? 200) });
  },
};
