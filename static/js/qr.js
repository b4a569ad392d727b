// QR codes, drawn by `qr` (paulmillr/qr, the author of @noble/hashes: zero dependencies, one ES module
// with no imports, imported straight from node_modules). It renders a GIF as a data: URL, which an
// <img> shows under `img-src 'self' data:`; nothing is parsed as markup.

import encodeQR from "../node_modules/qr/index.js";

const SCALE = 5; // pixels per module: a ~130-character link is 45 modules wide, 265 px with the border
const BORDER = 4; // the quiet zone the standard asks for (modules)

/** A data: URL of a GIF of `text` as a QR code (error correction "medium"). */
export function qrDataUrl(text) {
  return encodeQR(text, "data-url", { ecc: "medium", scale: SCALE, border: BORDER });
}
