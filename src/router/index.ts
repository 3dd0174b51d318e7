export * from "./canonical.ts";
export * from "./matcher.ts";
export * from "./compile.ts";
