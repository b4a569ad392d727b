// The status pill in the header: the live connection's state (live / reconnecting / offline).

const STATUS_TEXT = { live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

export class StatusPill {
  constructor(el, stream) {
    const text = el.querySelector(".status-text");
    stream.addEventListener("state", (e) => {
      el.dataset.state = e.detail;
      text.textContent = STATUS_TEXT[e.detail];
    });
  }
}
