/** Rooms and WebSocket pass-through behind a real JWT authorizer (HS256 from a Worker secret). */
import { describe, expect, it } from "vitest";
import { epochNow, mint, utf8, type MintOptions } from "../../tools/jwt-tokens.ts";
import { TEST_JWT_SECRET } from "../support/jwt-secret.ts";
import { echoOf, errorOf } from "../support/worker-gateway.ts";
import { gatewayFor } from "../support/worker-gateway.ts";
import { connect, join, uniqueRoom } from "./room-socket.ts";

const token = (options: MintOptions = {}) => mint(utf8(TEST_JWT_SECRET), "HS256", undefined, options);
const call = gatewayFor({
  authorizers: {
    main: {
      type: "jwt", issuer: "https://auth.test/", audience: "api", algorithms: ["HS256"],
      secret: { env: "TEST_JWT_SECRET" }, clockToleranceSec: 0,
      tokenSources: [{ header: "authorization" }, { webSocketProtocol: "bearer." }],
    },
  },
  routes: [
    { id: "chat", path: "/v1/rooms/:room", auth: { authorizer: "main", scopes: ["chat"] }, room: { name: ":room", identityClaims: ["name"] } },
    { id: "live", path: "/v1/live", origin: "echo", websocket: true, auth: { authorizer: "main" } },
  ],
});
const chatToken = (claims: MintOptions["claims"] = {}) => token({ claims: { scope: "chat", ...claims } });

describe("a room behind a JWT authorizer", () => {
  it.each([
    ["no token", async () => ({}), 401, "token_missing"],
    ["an expired token", async () => ({ authorization: `Bearer ${await chatToken({ exp: epochNow() - 5 })}` }), 401, "token_expired"],
    ["a token signed with another secret", async () => ({ authorization: `Bearer ${await mint(utf8("another-secret-0123456789abcdef0123456789"), "HS256", undefined, { claims: { scope: "chat" } })}` }), 401, "token_invalid"],
    ["a token without the chat scope", async () => ({ authorization: `Bearer ${await token()}` }), 403, "insufficient_scope"],
  ])("refuses an upgrade with %s, and never answers 101", async (_what, headers, status, code) => {
    const response = await call(`/v1/rooms/${uniqueRoom()}`, { headers: { upgrade: "websocket", ...(await headers()) } });
    expect(response.status).toBe(status);
    expect(response.webSocket).toBeNull();
    expect((await errorOf(response)).code).toBe(code);
  });

  it("admits a browser token carried in Sec-WebSocket-Protocol and never echoes the token as the protocol", async () => {
    const room = uniqueRoom();
    const observer = await join(call, `/v1/rooms/${room}`, { authorization: `Bearer ${await chatToken({ sub: "observer" })}` });
    const jwt = await chatToken({ sub: "alice", name: "Alice" });
    const alice = await connect(call, `/v1/rooms/${room}`, { "sec-websocket-protocol": `chat.v1, bearer.${jwt}` });
    expect(alice.response.headers.get("sec-websocket-protocol")).toBe("chat.v1");
    const joined = await observer.socket.next();
    expect(joined).toMatchObject({ type: "join", sub: "alice", claims: { name: "Alice" } });
    expect(JSON.stringify(joined)).not.toContain(jwt);
    alice.close();
    observer.socket.close();
  });

  it("selects no protocol when the only entry offered was the token", async () => {
    const jwt = await chatToken();
    const socket = await connect(call, `/v1/rooms/${uniqueRoom()}`, { "sec-websocket-protocol": `bearer.${jwt}` });
    expect(socket.response.headers.get("sec-websocket-protocol")).toBeNull();
    socket.close();
  });

  it("closes a connection with 1008 when its token expires mid-session", async () => {
    const socket = await connect(call, `/v1/rooms/${uniqueRoom()}`, { authorization: `Bearer ${await chatToken({ exp: epochNow() + 2 })}` });
    const started = Date.now();
    const closed = await Promise.race([socket.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 6000))]);
    expect(closed?.code).toBe(1008);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("WebSocket pass-through behind a JWT authorizer", () => {
  // The echo origin answers the upgrade with plain HTTP, so the gateway passes back what it received.
  it("keeps a token offered in Sec-WebSocket-Protocol from the origin", async () => {
    const jwt = await token();
    const onlyToken = await echoOf(await call("/v1/live", { headers: { upgrade: "websocket", "sec-websocket-protocol": `bearer.${jwt}` } }));
    expect(onlyToken.headers["sec-websocket-protocol"]).toBeUndefined();
    expect(JSON.stringify(onlyToken)).not.toContain(jwt);
    const withOther = await echoOf(await call("/v1/live", { headers: { upgrade: "websocket", "sec-websocket-protocol": `chat.v1, bearer.${jwt}` } }));
    expect(withOther.headers["sec-websocket-protocol"]).toBe("chat.v1");
    expect(JSON.stringify(withOther)).not.toContain(jwt);
  });

  it("refuses an upgrade without a valid token before contacting the origin", async () => {
    const response = await call("/v1/live", { headers: { upgrade: "websocket", authorization: "Bearer not.a.token" } });
    expect(response.status).toBe(401);
    expect(response.webSocket).toBeNull();
  });
});
