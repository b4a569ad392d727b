// The page for Vercel, as Build Output API v3 (.vercel/output/config.json + static/), built from this
// directory (the Vercel project's Root Directory). Plain Node, no dependencies: `node vercel-build.mjs`.
//
// One environment variable, LIVE2D_NOTIFY_API_ORIGIN (e.g. https://me--live2d-notify-web.modal.run),
// becomes both config.js's `apiBase` and the API origin in the Content-Security-Policy's connect-src,
// so the two cannot disagree. Unset or not an origin: the build fails. The headers are written here,
// not in vercel.json, because vercel.json's headers are static (and Vercel would serve both tables).
// Only what the page loads is copied: its own files, the Live2D scripts config.js names and the sample
// models' asset folders, never the rest of node_modules. docs/deploy.md, "The page on Vercel".

import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

const SOURCE = path.dirname(fileURLToPath(import.meta.url));
const OUTPUT = path.join(SOURCE, ".vercel", "output"); // where Vercel looks for Build Output API v3
const VARIABLE = "LIVE2D_NOTIFY_API_ORIGIN";
// The page's own files; sw.js precaches shell.json's and vendor.json's lists, so both ship too.
const PAGE_FILES = ["index.html", "config.js", "favicon.svg", "manifest.webmanifest", "sw.js", "shell.json", "vendor.json", "css", "js", "icons"];
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]); // http allowed only there (local tests)

// The server's own page headers (src/live2d_notify/app.py; tests/test_vercel_build.py keeps them equal),
// connect-src opened to the API's origin and nothing else.
function pageHeaders(apiOrigin) {
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ${apiOrigin}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join("; ");
  return {
    "Content-Security-Policy": csp,
    "Referrer-Policy": "no-referrer", // stream tickets live in a URL: never let one leave in a Referer
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
  };
}

class BuildError extends Error {}

/** `https://host[:port]`, nothing else (a trailing slash is dropped); `http://` only for loopback hosts. */
function parseOrigin(value) {
  const example = "e.g. https://<workspace>--live2d-notify-web.modal.run";
  if (!value) {
    throw new BuildError(
      `${VARIABLE} is not set. Set it in the Vercel project's Environment Variables to the API's origin ` +
        `(${example}); without it the page would call its own origin, which has no API.`,
    );
  }
  const trimmed = value.trim().replace(/\/$/, "");
  let url;
  try {
    url = new URL(trimmed);
  } catch {
    throw new BuildError(`${VARIABLE}=${JSON.stringify(value)} is not a URL: use the API's origin, ${example}.`);
  }
  const secure = url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
  // The origin goes into a CSP header and a script: only plain host names, IPv6 literals and a port.
  const plain = /^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:[0-9]+)?$/.test(url.origin);
  if (!secure || !plain || url.origin !== trimmed) {
    throw new BuildError(
      `${VARIABLE}=${JSON.stringify(value)} is not an https origin (scheme://host[:port], no path, query ` +
        `or credentials; http only for localhost): ${example}.`,
    );
  }
  return url.origin;
}

/** config.js with `apiBase` set, and the configuration it declares (read by running it, as the page does). */
function configure(apiOrigin) {
  const text = fs.readFileSync(path.join(SOURCE, "config.js"), "utf8");
  const marker = /apiBase:\s*""(\s*\/\*[^*]*\*\/)?/g; // `apiBase: ""` and its comment, if any
  const found = text.match(marker) || [];
  if (found.length !== 1) {
    throw new BuildError(`config.js: expected exactly one \`apiBase: ""\` to fill in, found ${found.length}.`);
  }
  const configured = text.replace(marker, `apiBase: ${JSON.stringify(apiOrigin)} /* ${VARIABLE}, by vercel-build.mjs */`);
  const sandbox = { window: {} };
  vm.runInNewContext(configured, sandbox, { filename: "config.js" });
  const config = sandbox.window.LIVE2D_NOTIFY_CONFIG;
  if (!config || config.apiBase !== apiOrigin) {
    throw new BuildError("config.js: window.LIVE2D_NOTIFY_CONFIG.apiBase did not take the API origin.");
  }
  return { text: configured, config };
}

/** A path the page loads relative to itself, checked to stay inside this directory. */
function local(relative, what) {
  const resolved = path.resolve(SOURCE, relative);
  if (path.isAbsolute(relative) || !resolved.startsWith(SOURCE + path.sep)) {
    throw new BuildError(`config.js: ${what} ${JSON.stringify(relative)} is outside static/.`);
  }
  if (!fs.existsSync(resolved)) {
    throw new BuildError(`${relative} is missing (${what}): run \`npm ci\` in static/ first.`);
  }
  return path.relative(SOURCE, resolved);
}

/** What the page loads besides its own files: the Live2D scripts, and each local model's folder. */
function assets(config) {
  const files = (config.live2d?.scripts || []).map((src) => local(src, "Live2D script"));
  for (const [name, model] of Object.entries(config.models || {})) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(model.url) || model.url.startsWith("//")) continue; // elsewhere, with CORS
    const folder = path.dirname(local(model.url, `model ${name}`));
    if (folder === ".") {
      throw new BuildError(`config.js: model ${name}'s file must sit in a folder of its own, not in static/.`);
    }
    files.push(folder); // the .model.json names its textures, motions and sounds relative to it
  }
  // The modules the page imports from node_modules (and everything the server serves of it): vendor.json.
  const vendor = JSON.parse(fs.readFileSync(path.join(SOURCE, "vendor.json"), "utf8"));
  for (const prefix of vendor.serve) files.push(local(`node_modules/${prefix}`, "vendor.json entry"));
  return [...new Set(files)].filter((f, _, all) => !all.some((o) => o !== f && f.startsWith(o + path.sep)));
}

function build() {
  const apiOrigin = parseOrigin(process.env[VARIABLE]);
  const { text, config } = configure(apiOrigin);
  const copies = [...PAGE_FILES.map((p) => local(p, "page file")), ...assets(config)];
  fs.rmSync(OUTPUT, { recursive: true, force: true });
  const root = path.join(OUTPUT, "static");
  for (const relative of copies) {
    fs.cpSync(path.join(SOURCE, relative), path.join(root, relative), { recursive: true, dereference: true });
  }
  fs.writeFileSync(path.join(root, "config.js"), text);
  const routes = [{ src: "/(.*)", headers: pageHeaders(apiOrigin), continue: true }, { handle: "filesystem" }];
  fs.writeFileSync(path.join(OUTPUT, "config.json"), JSON.stringify({ version: 3, routes }, null, 2) + "\n");
  console.log(`vercel-build: the page for the API at ${apiOrigin}, ${copies.length} paths in ${OUTPUT}`);
}

try {
  build();
} catch (error) {
  if (!(error instanceof BuildError)) throw error;
  console.error(`vercel-build: ${error.message}`);
  process.exitCode = 1;
}
