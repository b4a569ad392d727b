// The service worker (a module worker, registered by js/service-worker.js): the page's shell offline,
// and Web Push (docs/page.md, "Offline and installing" and "Push notifications").
//
// - Install precaches the shell: shell.json's files and vendor.json's (a vendor folder, like a model's,
//   is cached as the page loads it). Every same-origin GET the page makes is network first: the answer
//   (revalidated as the server's headers say) is what the page gets and what the cache keeps, and the
//   cache answers only when the network cannot, so a deploy shows at once and offline gets the newest.
// - Never cached, never even looked at: anything under /api/, a request carrying an Authorization
//   header, any URL with a `ticket=`, another origin's, anything but GET.
// - push: a notification per push (tag per agent session, so a newer one replaces the older), its
//   sealed detail opened with the user key the page left in IndexedDB (js/sw-state.js); an approval
//   gets Allow / Deny where the platform shows actions. notificationclick posts that decision with its
//   proof (js/seal.js, the page's own code), or focuses the page (opening it at the approval's card).

import { decisionProof, open as openSealed } from "./js/seal.js";
import { clearPushState, readPushState } from "./js/sw-state.js";

const CACHE = "live2d-notify-shell-v1"; // the layout of what is kept; its content is kept fresh by use
const NAVIGATION_TIMEOUT_MS = 4000; // a page request slower than this is answered from the cache
const SCOPE = new URL(self.registration.scope);
const PAGE = new URL("./", SCOPE).href; // the page (index.html) is kept under the scope's own URL
const NEVER = /(^|[?&])ticket=/;

// ----- offline -----

/** What the service worker may store: same-origin GETs outside /api/ with no credentials. */
function cacheable(request) {
  const url = new URL(request.url);
  return (
    request.method === "GET" &&
    url.origin === SCOPE.origin &&
    url.pathname.startsWith(SCOPE.pathname) &&
    !url.pathname.startsWith("/api/") &&
    url.pathname !== "/api" &&
    !request.headers.has("Authorization") &&
    !NEVER.test(url.search)
  );
}

async function precache() {
  const cache = await caches.open(CACHE);
  const lists = await Promise.all(
    ["shell.json", "vendor.json"].map((name) =>
      fetch(new URL(name, SCOPE), { cache: "no-cache" }).then((r) => (r.ok ? r.json() : {}), () => ({}))),
  );
  const [shell, vendor] = lists;
  const files = [
    ...(shell.files || []),
    ...(vendor.serve || []).filter((p) => !p.endsWith("/")).map((p) => `node_modules/${p}`),
  ];
  // One missing file (a vendor file a deployment left out) must not cost the whole shell.
  await Promise.allSettled(
    files.map(async (file) => {
      const url = new URL(file, SCOPE);
      const response = await fetch(url, { cache: "no-cache" });
      if (response.ok) await cache.put(file === "./" ? PAGE : url.href, response);
    }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("live2d-notify-") && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function networkFirst(event) {
  const { request } = event;
  const navigation = request.mode === "navigate";
  const key = navigation ? PAGE : request.url; // ?view=overlay and #pair=… are the same page
  const cache = await caches.open(CACHE);
  const fetched = fetch(request);
  try {
    const response = await (navigation ? withTimeout(fetched, NAVIGATION_TIMEOUT_MS) : fetched);
    if (response.ok && response.type === "basic" && !response.headers.has("Content-Range")) {
      event.waitUntil(cache.put(key, response.clone()).catch(() => {}));
    }
    return response;
  } catch (error) {
    const cached = await cache.match(key);
    if (cached) return cached;
    if (navigation) return fetched; // nothing kept yet: the network's own answer or error
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  if (!cacheable(event.request)) return; // the browser handles it as if there were no service worker
  event.respondWith(networkFirst(event));
});

// ----- push -----

const TITLES = { waiting: "Waiting for you", approval: "Asks for permission", success: "Done", error: "Failed" };

/** The push's fields (docs/api.md, Web Push), or null for anything else. */
function readPush(event) {
  try {
    const data = event.data ? event.data.json() : null;
    return data && typeof data === "object" && data.v === 1 ? data : null;
  } catch {
    return null;
  }
}

function text(value, max) {
  return typeof value === "string" ? value.slice(0, max) : "";
}

/** The notification for a push: title, options. `detail`: the opened sealed detail, or null. */
function notificationFor(data, detail, canDecide) {
  const kind = TITLES[data.kind] ? data.kind : "waiting";
  const what = text(detail && (detail.command || detail.path || detail.url || detail.detail), 160);
  const title = `${TITLES[kind]}: ${text(data.title, 80) || text(data.source, 32) || "your agent"}`;
  const body = [text(detail && detail.project, 80), what, data.sealed && !detail ? "details hidden" : "", text(data.source, 32)]
    .filter(Boolean)
    .join(" · ");
  const approval = kind === "approval" && typeof data.approval_id === "string" ? data.approval_id : null;
  const actions =
    approval && canDecide && (self.Notification ? Notification.maxActions || 0 : 0) >= 2
      ? [
          { action: "allow", title: "Allow" },
          { action: "deny", title: "Deny" },
        ]
      : [];
  return [
    title.slice(0, 120),
    {
      body: body.slice(0, 240),
      tag: `live2d-notify:${text(data.session, 64)}`,
      renotify: true,
      requireInteraction: kind === "approval" || kind === "waiting",
      icon: new URL("icons/icon-192.png", SCOPE).href,
      actions,
      data: { kind, approvalId: approval, sealed: text(data.sealed, 4096), session: text(data.session, 64) },
    },
  ];
}

async function onPush(event) {
  const data = readPush(event);
  if (!data) {
    // Every push must show something (userVisibleOnly): a plain one for what cannot be read.
    await self.registration.showNotification("live2d-notify", { body: "Something happened in your agents.", tag: "live2d-notify:" });
    return;
  }
  const state = await readPushState();
  const detail = state && state.userKey && data.sealed ? openSealed(state.userKey, data.sealed) : null;
  const [title, options] = notificationFor(data, detail, Boolean(state && state.session && state.userKey));
  await self.registration.showNotification(title, options);
}

self.addEventListener("push", (event) => event.waitUntil(onPush(event)));

/** Post the decision with its proof (docs/e2e.md); true when the approval is decided now or already. */
async function decide({ approvalId, sealed }, behavior) {
  const state = await readPushState();
  if (!state || !state.session || !state.userKey) return false;
  const base = state.apiBase || SCOPE.origin;
  const proof = decisionProof(state.userKey, approvalId, behavior, sealed || "", "");
  let response;
  try {
    response = await fetch(`${base}/api/approvals/${encodeURIComponent(approvalId)}/decision`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${state.session}` },
      body: JSON.stringify({ behavior, proof }),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    return false;
  }
  if (response.status === 401) await clearPushState(); // this device was signed out: it can decide nothing
  return response.ok || response.status === 409;
}

/** Focus a page of this scope (telling it which approval to show), or open one at the card. */
async function showPage(approvalId) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const page = windows.find((w) => w.url.startsWith(SCOPE.href));
  if (page) {
    if (approvalId) page.postMessage({ type: "show-approval", approvalId });
    return page.focus();
  }
  return self.clients.openWindow(approvalId ? `${PAGE}#approval=${encodeURIComponent(approvalId)}` : PAGE);
}

async function onClick(event) {
  const data = event.notification.data || {};
  const behavior = event.action === "allow" || event.action === "deny" ? event.action : null;
  event.notification.close();
  if (behavior && data.approvalId && (await decide(data, behavior))) {
    await self.registration.showNotification(behavior === "allow" ? "Allowed" : "Denied", {
      body: event.notification.title,
      tag: event.notification.tag,
      silent: true,
    });
    return;
  }
  await showPage(data.approvalId);
}

self.addEventListener("notificationclick", (event) => event.waitUntil(onClick(event)));
