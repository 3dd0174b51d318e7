import { describe, expect, it } from "vitest";
import { echoOf, errorOf, gatewayFor, route } from "../support/worker-gateway.ts";

const whoAnswered = async (response: Response) => (await echoOf(response)).headers["x-route"];
const tagged = (id: string, path: string, extra: Record<string, unknown> = {}) =>
  route(id, path, { requestHeaders: { set: { "x-route": id } }, ...extra });

describe("route matching", () => {
  const call = gatewayFor({
    routes: [
      tagged("any-host", "/v1/orders/*"),
      tagged("wildcard-host", "/v1/orders/*", { host: "*.example.com" }),
      tagged("deep-wildcard-host", "/v1/orders/*", { host: "*.eu.example.com" }),
      tagged("exact-host", "/v1/orders/*", { host: "api.example.com" }),
      tagged("param", "/v1/users/:id", { methods: ["GET"] }),
      tagged("static", "/v1/users/me", { methods: ["GET"] }),
      tagged("param-post", "/v1/users/:id", { methods: ["POST"] }),
      tagged("files", "/v1/users/:id/*", { methods: ["GET"] }),
      tagged("health", "/health", { methods: ["GET"] }),
      tagged("root", "/", { methods: ["GET"] }),
    ],
  });

  it("prefers an exact host, then the longest wildcard host, then any host", async () => {
    expect(await whoAnswered(await call("/v1/orders/1", { host: "api.example.com" }))).toBe("exact-host");
    expect(await whoAnswered(await call("/v1/orders/1", { host: "web.example.com" }))).toBe("wildcard-host");
    expect(await whoAnswered(await call("/v1/orders/1", { host: "a.eu.example.com" }))).toBe("deep-wildcard-host");
    expect(await whoAnswered(await call("/v1/orders/1", { host: "example.com" }))).toBe("any-host");
    expect(await whoAnswered(await call("/v1/orders/1", { host: "other.test" }))).toBe("any-host");
  });

  it("matches hosts case-insensitively and ignores the port", async () => {
    expect(await whoAnswered(await call("/v1/orders/1", { host: "API.Example.com:8443" }))).toBe("exact-host");
  });

  it("prefers a static segment over a parameter over a wildcard", async () => {
    expect(await whoAnswered(await call("/v1/users/me"))).toBe("static");
    expect(await whoAnswered(await call("/v1/users/42"))).toBe("param");
    expect(await whoAnswered(await call("/v1/users/42/avatar.png"))).toBe("files");
  });

  it("falls through to a less specific branch when the specific one lacks the method", async () => {
    expect(await whoAnswered(await call("/v1/users/me", { method: "POST" }))).toBe("param-post");
  });

  it("lets a trailing * match the bare prefix and any depth below it", async () => {
    expect(await whoAnswered(await call("/v1/orders"))).toBe("any-host");
    expect(await whoAnswered(await call("/v1/orders/"))).toBe("any-host");
    expect(await whoAnswered(await call("/v1/orders/a/b/c"))).toBe("any-host");
  });

  it("matches a path with or without a trailing slash", async () => {
    expect(await whoAnswered(await call("/health/"))).toBe("health");
    expect(await whoAnswered(await call("/"))).toBe("root");
  });

  it("answers HEAD on a GET route", async () => {
    const response = await call("/health", { method: "HEAD" });
    expect(response.status).toBe(200);
  });

  it("answers 404 with the JSON envelope when no route matches", async () => {
    const response = await call("/v2/nothing");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const error = await errorOf(response);
    expect(error).toEqual({ code: "not_found", message: "No route matches this request.", requestId: response.headers.get("x-request-id") });
  });

  it("answers 405 with Allow when the path matches but the method does not", async () => {
    const response = await call("/health", { method: "DELETE" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect((await errorOf(response)).code).toBe("method_not_allowed");
  });

  it("lists every method the path allows across routes in Allow", async () => {
    const response = await call("/v1/users/42", { method: "PUT" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD, POST");
  });

  it("does not let a parameter match an empty segment", async () => {
    expect((await call("/v1/users//")).status).toBe(404);
  });
});

describe("the request id", () => {
  const call = gatewayFor({ routes: [route("echo", "/echo")] });

  it("keeps a valid incoming X-Request-Id and sends it to the origin and back", async () => {
    const response = await call("/echo", { headers: { "x-request-id": "abc-123_XYZ" } });
    expect(response.headers.get("x-request-id")).toBe("abc-123_XYZ");
    expect((await echoOf(response)).headers["x-request-id"]).toBe("abc-123_XYZ");
  });

  it("replaces an invalid incoming X-Request-Id with a generated one", async () => {
    const response = await call("/echo", { headers: { "x-request-id": "bad id\twith spaces" } });
    const id = response.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await echoOf(response)).headers["x-request-id"]).toBe(id);
  });

  it("is on error responses too, in the header and the body", async () => {
    const response = await call("/missing", { headers: { "x-request-id": "req-1" } });
    expect(response.headers.get("x-request-id")).toBe("req-1");
    expect((await errorOf(response)).requestId).toBe("req-1");
  });
});
