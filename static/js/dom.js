// Finding the page's elements and building the few it makes; text only ever goes in as textContent.

export const $ = (selector, root = document) => root.querySelector(selector);
export const byTestId = (id, root = document) => $(`[data-testid="${id}"]`, root);

/** A small button with visible `text`, an accessible `label` and a click handler. */
export function smallButton(text, label, onClick, extraClass = "") {
  const el = document.createElement("button");
  el.type = "button";
  el.className = `btn btn-small ${extraClass}`.trim();
  el.textContent = text;
  el.setAttribute("aria-label", label);
  el.addEventListener("click", onClick);
  return el;
}

/** A <span class> holding `text`. */
export function textSpan(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}
