// Registering the service worker (sw.js: the shell offline, Web Push) once the page has settled, and
// hearing what it asks of the page (show an approval's card after a notification was clicked).

/** True where this page can have a service worker: a secure context (https, or localhost). */
export const serviceWorkerSupported = "serviceWorker" in navigator && window.isSecureContext;

let registered = null;

/** Register sw.js (a module worker) once; resolves to the registration, or null where unsupported. */
export function registerServiceWorker() {
  if (!serviceWorkerSupported) return Promise.resolve(null);
  if (!registered) {
    registered = navigator.serviceWorker
      .register(new URL("../sw.js", import.meta.url), { type: "module", scope: new URL("../", import.meta.url).pathname })
      .catch(() => null);
  }
  return registered;
}

/** The active registration (waiting for it to activate), or null. */
export async function readyRegistration() {
  if (!(await registerServiceWorker())) return null;
  return navigator.serviceWorker.ready;
}

/** Call `onApproval(id)` when a notification asks to show approval `id`: by a message from the
 * service worker, or by the `#approval=<id>` fragment a notification opened the page with. */
export function listenForApprovals(onApproval) {
  const fromHash = () => {
    const match = /^#approval=([A-Za-z0-9_-]{1,128})$/.exec(window.location.hash);
    if (!match) return;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    onApproval(match[1]);
  };
  fromHash();
  window.addEventListener("hashchange", fromHash);
  if (serviceWorkerSupported) {
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data && e.data.type === "show-approval" && typeof e.data.approvalId === "string") onApproval(e.data.approvalId);
    });
  }
}

const CARD_WAIT_MS = 30000; // a page just opened from a notification draws its cards once the stream is live

/** Bring approval `id`'s card into view (the element with `data-approval-id`), now or once it is drawn. */
export function showApproval(id) {
  const find = () => [...document.querySelectorAll("[data-approval-id]")].find((el) => el.dataset.approvalId === id);
  const show = (card) => {
    card.scrollIntoView({ block: "center" });
    if (!card.hasAttribute("tabindex")) card.setAttribute("tabindex", "-1");
    card.focus({ preventScroll: true });
  };
  const card = find();
  if (card) {
    show(card);
    return;
  }
  const observer = new MutationObserver(() => {
    const drawn = find();
    if (!drawn) return;
    observer.disconnect();
    show(drawn);
  });
  observer.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-approval-id"] });
  window.setTimeout(() => observer.disconnect(), CARD_WAIT_MS);
}
