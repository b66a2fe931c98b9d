// Serves the built window (ui/dist) and opens it in Debian's Chromium with the FAKE IPC
// (tests/fake-ipc.js) standing in for the Tauri shell.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../dist/", import.meta.url));
const fakeIpc = fileURLToPath(new URL("./fake-ipc.js", import.meta.url));
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml" };

export async function serveDist() {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname)).replace(/^\/+/, "");
    try {
      const body = await readFile(join(root, path || "index.html"));
      response.writeHead(200, { "content-type": types[extname(path)] ?? "text/html" });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
  });
}

/** A page of the window over a fake desk; `setup` runs in the page before the app starts. */
export async function openDesk(browser, url, { seed = {}, setup = () => {} } = {}) {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, locale: seed.language ?? "zh-CN" });
  page.on("pageerror", (error) => {
    throw error;
  });
  await page.addInitScript((value) => (window.__FAKE_DESK_SEED__ = value), seed);
  await page.addInitScript({ path: fakeIpc });
  await page.addInitScript(setup);
  await page.goto(url);
  await page.getByTestId("app-title").waitFor();
  return page;
}

/** Calls the fake desk in the page (pay an order, queue a request, move a refund). */
export function fake(page, fn, ...args) {
  return page.evaluate(([source, args]) => new Function("desk", "args", `return (${source})(desk, ...args)`)(window.__fakeDesk, args), [fn.toString(), args]);
}

export function commandsCalled(page, name) {
  return page.evaluate((name) => window.__fakeDesk.calls.filter((c) => c.command === name), name);
}
