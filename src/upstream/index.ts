export * from "./fetch.ts";
export * from "./forward.ts";
export * from "./headers.ts";
export * from "./target.ts";
export * from "./websocket.ts";
