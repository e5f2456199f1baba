// Entry point: pick the host (Premiere Pro when the `premierepro` module loads, a browser
// otherwise) and start the panel.

import { BrowserHost } from "./hosts/browser";
import type { Host } from "./hosts/host";
import { insidePremiere, PremiereHost } from "./hosts/premiere";
import { Panel } from "./panel";

function chooseHost(): Host {
  if (insidePremiere()) return new PremiereHost(localStorage);
  const results = document.getElementById("results");
  if (!results) throw new Error("panel markup lacks #results");
  return new BrowserHost(document, results, localStorage);
}

function start(): void {
  const panel = new Panel(document, chooseHost());
  panel.start();
  // Exposed for debugging in UXP Developer Tool's console and in browser devtools.
  (globalThis as { foleyPanel?: Panel }).foleyPanel = panel;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
