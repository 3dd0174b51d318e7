declare module "@edge-gateway/routes" {
  const table: unknown;
  export default table;
}
