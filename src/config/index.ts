export * from "./common.ts";
export * from "./assemble.ts";
export * from "./core.ts";
export * from "./origins.ts";
export * from "./table.ts";
export * from "./validate.ts";
