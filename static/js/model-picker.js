// Which character is on stage: the model select, "Your own model", and loading the chosen one.

import { createLive2DRenderer, webglAvailable } from "./live2d.js";

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

  /** Put the chosen model on stage (the fallback character when it cannot load) and say why. */
  async show() {
    const spec = this.spec(this.prefs.get("model"));
    const { config, el } = this;
    const problem = await this.character.show(async () => {
      if (!spec) throw new Error("no model configured");
      if (!webglAvailable()) throw new Error("WebGL is not available in this browser");
      return createLive2DRenderer({
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
