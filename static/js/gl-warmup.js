// A worker that makes one WebGL context on an OffscreenCanvas and says whether it got one.
//
// The first WebGL context of a page starts the browser's GPU side (in software rendering that takes
// ≈ 0.5 s); made here, that wait is off the page's main thread, and the page's own context is quick.

const canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(1, 1) : null;
let gl = null;
try {
  gl = canvas && (canvas.getContext("webgl2") || canvas.getContext("webgl"));
} catch {
  gl = null;
}
self.postMessage({ webgl: Boolean(gl) }); // the page only waits for it: its own probe decides
