/** The console's entry: renders the app into the shell the Worker serves (src/admin/ui/index.ts). */
import { render } from "hono/jsx/dom";
import { App } from "./app.tsx";

const root = document.getElementById("console");
if (root) render(<App />, root);
