export * from "./forward.ts";
export * from "./headers.ts";
export * from "./target.ts";
