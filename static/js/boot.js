// The page's entry point: let the browser paint the page's shell (the header, the stand-in character,
// the panels) before fetching and running the page's code (main.js and its ~45 modules), so a slow
// phone shows something at once instead of waiting for the code it is still downloading.

const FRAME_TIMEOUT_MS = 100; // a hidden tab paints no frames: start anyway

// `?view=overlay`: only the character, its speech line and the sessions as chips, on a transparent
// background (an OBS browser source, a small always-on-top window). Set before the first paint.
if (new URLSearchParams(window.location.search).get("view") === "overlay") document.documentElement.dataset.view = "overlay";

const painted = new Promise((resolve) => {
  if (document.visibilityState === "hidden") resolve();
  window.requestAnimationFrame(() => window.setTimeout(resolve, 0));
  window.setTimeout(resolve, FRAME_TIMEOUT_MS);
});
painted.then(() => import("./main.js"));
