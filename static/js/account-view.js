// Signed in or signed out: which of the two screens shows, why the page is signed out, "Start again".

import { SIGN_OUT_REASONS } from "./account.js";

export class AccountView {
  /**
   * @param elements { main, signedOut, reason, startAgain, focusAfterStart }
   * @param hooks { signedIn(), signedOut() }: called on every change of the account, after the screens
   */
  constructor(elements, { account, notice }, hooks) {
    this.el = elements;
    this.account = account;
    this.hooks = hooks;
    account.addEventListener("change", () => this.render());
    elements.startAgain.addEventListener("click", async (e) => {
      const button = e.currentTarget;
      button.disabled = true;
      try {
        await account.startAgain();
        elements.focusAfterStart.focus();
      } catch (err) {
        notice.show(`Could not start again: ${err.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }

  render() {
    const { account, el } = this;
    if (account.signedIn) {
      el.signedOut.hidden = true;
      el.main.hidden = false;
      this.hooks.signedIn();
    } else if (account.signedOut) {
      this.hooks.signedOut();
      el.main.hidden = true;
      el.signedOut.hidden = false;
      el.reason.textContent = SIGN_OUT_REASONS[account.signedOut.reason] || "Signed out.";
    }
  }
}
