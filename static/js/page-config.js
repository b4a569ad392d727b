// The page's configuration: static/config.js (window.LIVE2D_NOTIFY_CONFIG) over these defaults.

const DEFAULT_CONFIG = {
  apiBase: "",
  defaultModel: "shizuku",
  models: {},
  live2d: { scripts: [], delayMs: 3000 },
  render: { activeFps: 10, idleFps: 2, activeMs: 4000, throttle: true },
};

/** The configuration in force: `given` (static/config.js) over the defaults, `render` and `live2d` merged key by key. */
export function readConfig(given = {}) {
  const config = { ...DEFAULT_CONFIG, ...(given || {}) };
  config.render = { ...DEFAULT_CONFIG.render, ...(config.render || {}) };
  config.live2d = { ...DEFAULT_CONFIG.live2d, ...(config.live2d || {}) };
  return config;
}
