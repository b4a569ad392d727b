// Copy buttons: the clipboard API, or a selection and execCommand where it is missing (plain http).

const FEEDBACK_MS = 1500;

/** Copy `text`; `button` says "Copied" (or "Select and copy") for a moment; `announcer` says it too. */
export async function copyText(text, button, announcer) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Not a secure context, or no permission: fall back to a selection and execCommand.
    const area = document.createElement("textarea");
    area.value = text;
    area.className = "offscreen";
    area.setAttribute("readonly", "");
    document.body.append(area);
    area.select();
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
  }
  const label = button.textContent;
  button.textContent = ok ? "Copied" : "Select and copy";
  announcer.announce(ok ? "Copied to the clipboard." : "Could not copy; select the text and copy it.");
  window.setTimeout(() => (button.textContent = label), FEEDBACK_MS);
}
