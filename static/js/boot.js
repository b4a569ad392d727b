// The page's entry point: the browser paints the page's shell first (the header, the stand-in
// character, the panels: plain HTML and CSS), and only then fetches and runs the page's code (main.js
// and its ~45 modules), so a phone on a slow network shows the page at once instead of after its code.

const PAINT_TIMEOUT_MS = 1000; // start anyway when no paint is reported by then (or never, when hidden)

// `?view=overlay`: only the character, its speech line and the sessions as chips, on a transparent
// background (an OBS browser source, a small always-on-top window). Set before the first paint.
if (new URLSearchParams(window.location.search).get("view") === "overlay") document.documentElement.dataset.view = "overlay";

const painted = new Promise((resolve) => {
  if (document.visibilityState === "hidden" || !window.PerformanceObserver) {
    resolve();
    return;
  }
  try {
    new PerformanceObserver((list, observer) => {
      if (list.getEntries().some((e) => e.name === "first-contentful-paint")) {
        observer.disconnect();
        resolve();
      }
    }).observe({ type: "paint", buffered: true });
  } catch {
    resolve();
  }
  window.setTimeout(resolve, PAINT_TIMEOUT_MS);
});
painted.then(() => import("./main.js"));
