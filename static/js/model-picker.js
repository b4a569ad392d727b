// Which character is on stage: the model select, "Your own model", and loading the chosen one.

import { createLive2DRenderer } from "./live2d.js";

const IDLE_TIMEOUT_MS = 3000; // load Live2D by then even if the browser never looks idle

/** Resolves once the page has loaded, painted a frame and the main thread is idle. */
export function pageSettled() {
  return new Promise((resolve) => {
    const idle = () =>
      window.requestIdleCallback ? window.requestIdleCallback(() => resolve(), { timeout: IDLE_TIMEOUT_MS }) : window.setTimeout(resolve, 50);
    const painted = () => window.requestAnimationFrame(() => window.setTimeout(idle, 0));
    if (document.readyState === "complete") painted();
    else window.addEventListener("load", painted, { once: true });
  });
}

export class ModelPicker {
  /**
   * @param config the page config (models, defaultModel, live2d.scripts, render)
   * @param elements { select, form (url input), note, stage (the character's root) }
   */
  constructor({ config, prefs, character, reducedMotion, elements }) {
    this.config = config;
    this.prefs = prefs;
    this.character = character;
    this.reducedMotion = reducedMotion;
    this.el = elements;
  }

  /** The model spec for a choice: a configured model, or the person's own URL. */
  spec(id) {
    const { models, defaultModel } = this.config;
    if (id === "custom" && this.prefs.get("customModelUrl")) return { url: this.prefs.get("customModelUrl"), moods: {} };
    return models[id] || models[defaultModel] || Object.values(models)[0] || null;
  }

  /** Put the chosen model on stage (the fallback character when it cannot load) and say why.
   * `{ atStart: true }` (the page's start): the fallback shows at once; once the page has painted and
   * is idle, WebGL is probed (a browser without it keeps the fallback), and Live2D itself (≈ 1 MB of
   * scripts, then the model, whose parse alone takes the main thread for ≈ 0.2 s here and most of a
   * second on a phone) waits `live2d.delayMs` more, so the page's own start (sign-up, the stream, the
   * lists, a tap on a card) never waits behind it. */
  async show({ atStart = false } = {}) {
    const spec = this.spec(this.prefs.get("model"));
    const { config, el } = this;
    const problem = await this.character.show(async () => {
      if (atStart) await pageSettled();
      if (!spec) throw new Error("no model configured");
      return createLive2DRenderer({
        beforeLoading: atStart ? () => new Promise((resolve) => window.setTimeout(resolve, config.live2d.delayMs)) : null,
        root: el.stage,
        modelUrl: spec.url,
        moods: spec.moods,
        motions: spec.motions,
        view: spec.view,
        scripts: config.live2d.scripts,
        render: config.render,
        reducedMotion: this.reducedMotion,
      });
    });
    el.note.hidden = !problem;
    el.note.textContent = problem ? `Showing the simple character: ${problem.message}.` : "";
  }

  /** Fill the select (configured models, then the person's own) and wire it and the form. */
  build() {
    const { config, prefs, el } = this;
    const select = el.select;
    select.replaceChildren();
    for (const [id, model] of Object.entries(config.models)) {
      const option = document.createElement("option");
      option.value = id;
      option.textContent = model.label || id;
      select.append(option);
    }
    if (prefs.get("customModelUrl")) {
      const option = document.createElement("option");
      option.value = "custom";
      option.textContent = "Your own model";
      select.append(option);
    }
    const current = prefs.get("model");
    const usable = (current === "custom" && prefs.get("customModelUrl")) || current in config.models;
    select.value = usable ? current : config.defaultModel;
    select.onchange = () => {
      prefs.set("model", select.value);
      this.show();
    };
    const form = el.form;
    form.url.value = prefs.get("customModelUrl") || "";
    form.onsubmit = (e) => {
      e.preventDefault();
      const url = form.url.value.trim();
      prefs.set("customModelUrl", url);
      prefs.set("model", url ? "custom" : config.defaultModel);
      this.build();
      this.show();
    };
  }
}
