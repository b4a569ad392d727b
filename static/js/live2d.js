// The Live2D renderer: pixi.js 6 + pixi-live2d-display (Cubism 2), with a frame-rate governor.
//
// Software WebGL costs about a CPU core at 10 fps on an 800×600 canvas, so the governor renders at
// `activeFps` for `activeMs` after a reaction, then at `idleFps`, stops while the tab is hidden, and
// under prefers-reduced-motion skips motions and stops rendering once an expression has settled.

const LOAD_TIMEOUT_MS = 20000;
const WAITING_REPEAT_MS = 15000; // replay the waiting motion this often while it is unanswered
const BUBBLE_SPACE_PX = 56; // kept free above the model for the speech bubble (= .fallback top inset)

let scriptsLoaded = null;
let active = null; // the renderer on stage: only it drives the shared ticker (a model switch briefly has two)

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.async = false;
    el.addEventListener("load", () => resolve());
    el.addEventListener("error", () => reject(new Error(`could not load ${src}`)));
    document.head.append(el);
  });
}

/** Load the Live2D core, pixi.js and the plugin once, in order. */
function loadScripts(scripts) {
  if (!scriptsLoaded) {
    scriptsLoaded = scripts.reduce((chain, src) => chain.then(() => loadScript(src)), Promise.resolve());
    scriptsLoaded.catch(() => {
      scriptsLoaded = null;
    });
  }
  return scriptsLoaded;
}

// The options pixi's renderer asks its context for: a canvas answers a second getContext of the same
// kind with the context it already has, so the probe's context is the one pixi renders with.
const CONTEXT_OPTIONS = { alpha: true, antialias: false, premultipliedAlpha: true, stencil: true, preserveDrawingBuffer: false };

const WARMUP_TIMEOUT_MS = 5000;
let warmedUp = null;

/**
 * Start the GPU side off the main thread (js/gl-warmup.js) and wait for it (at most
 * WARMUP_TIMEOUT_MS). Whatever the worker found, the page's own probe decides afterwards: some
 * browsers have OffscreenCanvas without WebGL in workers.
 */
export function warmUpWebgl() {
  if (!warmedUp) {
    warmedUp = new Promise((resolve) => {
      let worker;
      try {
        worker = new Worker(new URL("./gl-warmup.js", import.meta.url));
      } catch {
        resolve();
        return;
      }
      const done = () => {
        window.clearTimeout(timer);
        worker.terminate();
        resolve();
      };
      const timer = window.setTimeout(done, WARMUP_TIMEOUT_MS);
      worker.addEventListener("message", done);
      worker.addEventListener("error", done);
    });
  }
  return warmedUp;
}

/**
 * A canvas with a live WebGL context, or null when this browser has none. This is the only probe:
 * making a context is costly (≈ 0.4 s in software rendering), so no second one is made to find out.
 */
function webglCanvas() {
  if (!window.WebGLRenderingContext) return null;
  try {
    const canvas = document.createElement("canvas");
    const gl = canvas.getContext("webgl2", CONTEXT_OPTIONS) || canvas.getContext("webgl", CONTEXT_OPTIONS);
    return gl && gl.getContextAttributes().stencil ? canvas : null;
  } catch {
    return null;
  }
}

/** Give a probed canvas's context back (browsers cap live contexts). */
function release(canvas) {
  const gl = canvas.getContext("webgl2") || canvas.getContext("webgl");
  const lose = gl && gl.getExtension("WEBGL_lose_context");
  if (lose) lose.loseContext();
}

function withTimeout(promise, ms, what) {
  let timer = 0;
  const timeout = new Promise((_, reject) => {
    timer = window.setTimeout(() => reject(new Error(`${what} timed out`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => window.clearTimeout(timer));
}

/**
 * Create a renderer showing the model at `modelUrl` on a new canvas inside `root`; `beforeLoading`
 * (optional) is awaited once WebGL is known to work, before the scripts and the model load.
 * Rejects when WebGL, the scripts or the model are unavailable (the caller falls back).
 */
export async function createLive2DRenderer({ root, modelUrl, moods, motions, view, scripts, render, reducedMotion, beforeLoading }) {
  // A fresh canvas per model: pixi loses the WebGL context of the canvas it is destroyed with.
  await warmUpWebgl();
  const canvas = webglCanvas();
  if (!canvas) throw new Error("WebGL is not available in this browser");
  let app = null;
  try {
    if (beforeLoading) await beforeLoading();
    await withTimeout(loadScripts(scripts), LOAD_TIMEOUT_MS, "loading the Live2D scripts");
    const PIXI = window.PIXI;
    if (!PIXI || !PIXI.live2d) throw new Error("pixi-live2d-display did not load");
    const { config } = PIXI.live2d;
    config.sound = false; // motions reference voice files; the page has its own optional beep
    config.logLevel = config.LOG_LEVEL_ERROR;
    const ticker = PIXI.Ticker.shared;
    ticker.autoStart = false; // or adding the model's update listener starts it uncapped
    if (!active) ticker.stop();
    canvas.className = "live2d-canvas";
    canvas.setAttribute("aria-hidden", "true");
    root.prepend(canvas);
    app = new Stage(PIXI, canvas, root, ticker);
    const model = await withTimeout(PIXI.live2d.Live2DModel.from(modelUrl, { autoInteract: true }), LOAD_TIMEOUT_MS, "loading the model");
    return new Live2DRenderer({
      root, canvas, app, model, moods, motions, view, render, reducedMotion, MotionPriority: PIXI.live2d.MotionPriority, ticker,
    });
  } catch (err) {
    if (app) app.destroy();
    else release(canvas);
    canvas.remove();
    throw err;
  }
}

/**
 * What PIXI.Application would be (a renderer, a stage drawn on the shared ticker), without its own
 * WebGL probe: PIXI.Application makes a throwaway context first to see whether WebGL works.
 */
class Stage {
  constructor(PIXI, canvas, box, ticker) {
    this.renderer = new PIXI.Renderer({
      view: canvas,
      width: Math.max(1, box.clientWidth),
      height: Math.max(1, box.clientHeight),
      backgroundAlpha: 0,
      antialias: false,
      resolution: Math.min(window.devicePixelRatio || 1, 2),
      autoDensity: true,
    });
    this.stage = new PIXI.Container();
    this.ticker = ticker;
    this._render = () => this.renderer.render(this.stage);
    ticker.add(this._render, null, PIXI.UPDATE_PRIORITY.LOW);
  }

  destroy() {
    this.ticker.remove(this._render, null);
    this.stage.destroy({ children: true });
    this.renderer.destroy(true);
  }
}

class Live2DRenderer {
  constructor({ root, canvas, app, model, moods, motions, view, render, reducedMotion, MotionPriority, ticker }) {
    this.kind = "live2d";
    this.root = root;
    this.canvas = canvas;
    this.app = app;
    this.model = model;
    this.moods = moods || {};
    this.motionOverrides = motions || {};
    this.view = { zoom: 1, focusY: 0.5, ...(view || {}) };
    this.render = render;
    this.reducedMotion = reducedMotion;
    this.priority = MotionPriority;
    this.ticker = ticker;
    this.activeUntil = 0;
    this.waiting = false;
    this._failure = null;
    this._modeTimer = 0;
    this._waitingTimer = 0;
    this._waitingMotions = null;
    this._destroyed = false;

    this.natural = { width: model.width, height: model.height };
    app.stage.addChild(model);
    this.groups = model.internalModel.motionManager.definitions || {};
    this.expressionNames = new Set(
      ((model.internalModel.motionManager.expressionManager || {}).definitions || []).map((d) => d.name),
    );
    model.on("hit", (areas) => this._onHit(areas));

    this._fit = this._fit.bind(this);
    this._govern = this._govern.bind(this);
    this._onContextLost = this._onContextLost.bind(this);
    this._resizeObserver = new ResizeObserver(() => this._fit());
    this._resizeObserver.observe(canvas.parentElement);
    document.addEventListener("visibilitychange", this._govern);
    reducedMotion.addEventListener("change", this._govern);
    canvas.addEventListener("webglcontextlost", this._onContextLost);
    this._idleGroup = model.internalModel.motionManager.groups.idle;
    this._applyMotionPreference = this._applyMotionPreference.bind(this);
    reducedMotion.addEventListener("change", this._applyMotionPreference);
    this._applyMotionPreference();
    this._fit();
    this._bump();
  }

  /** Put this renderer on stage: from now on it alone sets the frame rate. */
  activate() {
    active = this;
    this._govern();
  }

  /** Under reduced motion: no idle sway, no motions; expressions still change. */
  _applyMotionPreference() {
    const manager = this.model.internalModel.motionManager;
    manager.groups.idle = this.reducedMotion.matches ? "__none__" : this._idleGroup;
    if (this.reducedMotion.matches) manager.stopAllMotions();
  }

  /** Called when the renderer dies later (lost GPU context): the caller swaps in the fallback. */
  onFailure(callback) {
    this._failure = callback;
  }

  _onContextLost(e) {
    e.preventDefault();
    // After pixi's own handler, which looks at its context in a timeout of its own: destroying the
    // renderer before that runs would leave it reading a context that is gone (a TypeError).
    window.setTimeout(() => {
      if (this._failure && !this._destroyed) this._failure(new Error("WebGL context lost"));
    }, 0);
  }

  _fit() {
    if (this._destroyed) return;
    const box = this.canvas.parentElement;
    const width = Math.max(1, box.clientWidth);
    const height = Math.max(1, box.clientHeight);
    this.app.renderer.resize(width, height);
    // The model fits below a strip kept free for the speech bubble (as the fallback does in CSS).
    const { zoom, focusY } = this.view;
    const free = Math.max(1, height - BUBBLE_SPACE_PX);
    const scale = Math.min(width / this.natural.width, free / this.natural.height) * 0.95 * zoom;
    this.model.scale.set(scale);
    this.model.x = (width - this.natural.width * scale) / 2;
    this.model.y = BUBBLE_SPACE_PX + free / 2 - this.natural.height * scale * focusY;
    this._bump(600); // draw the new size even when idle
  }

  /** Render at the active rate for a while (a reaction, a resize, a tap). */
  _bump(ms = this.render.activeMs) {
    this.activeUntil = Math.max(this.activeUntil, performance.now() + ms);
    this._govern();
  }

  /** Pick the frame rate for the current situation; see the file comment. */
  _govern() {
    if (this._destroyed || active !== this) return;
    window.clearTimeout(this._modeTimer);
    const ticker = this.ticker;
    const now = performance.now();
    const busy = now < this.activeUntil;
    let mode;
    let fps;
    if (document.hidden) {
      mode = "stopped";
    } else if (!this.render.throttle) {
      mode = "uncapped";
      fps = Number(this.render.maxFps) || 0;
    } else if (busy) {
      mode = "active";
      fps = this.render.activeFps;
    } else if (this.reducedMotion.matches) {
      mode = "stopped";
    } else {
      mode = "idle";
      fps = this.render.idleFps;
    }
    if (mode === "stopped") {
      ticker.stop();
    } else {
      ticker.minFPS = 0; // maxFPS is clamped to >= minFPS (default 10): lower minFPS first
      ticker.maxFPS = fps;
      ticker.start();
    }
    this.root.dataset.renderMode = mode;
    if (busy && !document.hidden) this._modeTimer = window.setTimeout(this._govern, this.activeUntil - now + 20);
  }

  _onHit(areas) {
    if (this.reducedMotion.matches) return;
    const group = areas.includes("head") ? "flick_head" : "tap_body";
    this._motion([group, "tap_body"]);
  }

  _motion(groups) {
    if (this.reducedMotion.matches) return;
    const group = groups.find((g) => this.groups[g] && this.groups[g].length);
    if (group) this.model.motion(group, undefined, this.priority.FORCE).catch(() => {});
    this._bump();
  }

  _expression(mood) {
    const name = mood ? this.moods[mood] : null;
    const manager = this.model.internalModel.motionManager.expressionManager;
    if (!manager) return;
    if (name && this.expressionNames.has(name)) {
      this.model.expression(name).catch(() => {});
    } else {
      manager.currentExpression = manager.defaultExpression;
      manager.resetExpression();
    }
  }

  play(reaction) {
    if (reaction.type === "waiting") this._waitingMotions = this.motionOverrides.waiting || reaction.motions;
    this._expression(reaction.mood);
    this._motion(this.motionOverrides[reaction.type] || reaction.motions);
  }

  rest() {
    this._expression(null);
    this._bump(1000); // let the expression fade back before dropping to the idle rate
  }

  setWaiting(on) {
    this.waiting = on;
    window.clearInterval(this._waitingTimer);
    if (on) {
      this._waitingTimer = window.setInterval(() => {
        if (!document.hidden) this._motion(this._waitingMotions || ["shake"]);
      }, WAITING_REPEAT_MS);
    }
  }

  destroy() {
    if (this._destroyed) return;
    this._destroyed = true;
    window.clearTimeout(this._modeTimer);
    window.clearInterval(this._waitingTimer);
    this._resizeObserver.disconnect();
    document.removeEventListener("visibilitychange", this._govern);
    this.reducedMotion.removeEventListener("change", this._govern);
    this.reducedMotion.removeEventListener("change", this._applyMotionPreference);
    this.canvas.removeEventListener("webglcontextlost", this._onContextLost);
    if (active === this) {
      this.ticker.stop();
      active = null;
      this.root.dataset.renderMode = "stopped";
    }
    this.app.destroy();
    this.canvas.remove();
  }
}
