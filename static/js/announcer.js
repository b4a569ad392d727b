// The aria-live region: says things to screen-reader users (each event, copies, token changes).

export class Announcer {
  constructor(region) {
    this.region = region;
  }

  announce(text) {
    this.region.textContent = "";
    // A fresh text node after clearing makes screen readers announce repeated texts too.
    window.setTimeout(() => {
      this.region.textContent = text;
    }, 50);
  }
}
