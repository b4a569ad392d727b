// Sealed details (docs/e2e.md, version 1): the user key, its HKDF sub-keys, seal / open, decision proofs.
//
// The primitives are @noble/hashes' (audited; HMAC-SHA256, HKDF-SHA256, SHA-256), imported straight from
// node_modules as ES modules. They need no WebCrypto, so this also works on a page served over plain http
// from a LAN address, where `crypto.subtle` is missing. Randomness is `crypto.getRandomValues` only.

import { hkdf } from "../node_modules/@noble/hashes/hkdf.js";
import { hmac } from "../node_modules/@noble/hashes/hmac.js";
import { sha256 } from "../node_modules/@noble/hashes/sha2.js";
import { bytesToHex, concatBytes, utf8ToBytes } from "../node_modules/@noble/hashes/utils.js";

const KEY_BYTES = 32;
const NONCE_BYTES = 16;
const TAG_BYTES = 32;
const PREFIX = "v1.";
const SALT = utf8ToBytes("live2d-notify/v1");
const INFO = { enc: "seal/enc", mac: "seal/mac", proof: "decision/proof" };
const TAG_DOMAIN = utf8ToBytes("v1");
const PROOF_DOMAIN = "l2n-decision-v1";
const BASE64URL = /^[A-Za-z0-9_-]*$/;

// ----- base64url without padding -----

/** Bytes as base64url without padding. */
export function toBase64Url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url (no padding) to bytes; throws on anything else. */
export function fromBase64Url(text) {
  if (typeof text !== "string" || !BASE64URL.test(text) || text.length % 4 === 1) throw new Error("not base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// ----- the user key and its sub-keys -----

/** A fresh user key: 32 bytes from crypto.getRandomValues, as 43 characters of base64url. */
export function newUserKey() {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(KEY_BYTES)));
}

/** True for a well-formed user key (43 characters of base64url, 32 bytes). */
export function isUserKey(key) {
  try {
    return typeof key === "string" && key.length === 43 && fromBase64Url(key).length === KEY_BYTES;
  } catch {
    return false;
  }
}

const subKeyCache = new Map(); // user key -> { enc, mac, proof }

/** The three 32-byte sub-keys of a user key: HKDF-SHA256, salt "live2d-notify/v1", one info each. */
export function subKeys(userKey) {
  let keys = subKeyCache.get(userKey);
  if (!keys) {
    const ikm = fromBase64Url(userKey);
    if (ikm.length !== KEY_BYTES) throw new Error("a user key is 32 bytes");
    keys = Object.fromEntries(Object.entries(INFO).map(([name, info]) => [name, hkdf(sha256, ikm, SALT, utf8ToBytes(info), KEY_BYTES)]));
    subKeyCache.set(userKey, keys);
  }
  return keys;
}

// ----- seal and open -----

/** P XOR the keystream HMAC-SHA256(k_enc, N ‖ uint32_be(i)), i = 0, 1, 2… */
function xorKeystream(kEnc, nonce, data) {
  const out = new Uint8Array(data.length);
  const counter = new Uint8Array(4);
  const view = new DataView(counter.buffer);
  for (let block = 0, at = 0; at < data.length; block += 1, at += 32) {
    view.setUint32(0, block, false);
    const stream = hmac(sha256, kEnc, concatBytes(nonce, counter));
    for (let i = 0; i < 32 && at + i < data.length; i += 1) out[at + i] = data[at + i] ^ stream[i];
  }
  return out;
}

function tagOf(kMac, nonce, ciphertext) {
  return hmac(sha256, kMac, concatBytes(TAG_DOMAIN, nonce, ciphertext));
}

/** Equal bytes, compared without stopping at the first difference. */
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Seal `plaintext` (an object, or its JSON text) with the user key. `nonce` (16 bytes) is for test
 * vectors only: leave it out and a fresh one comes from crypto.getRandomValues.
 */
export function seal(userKey, plaintext, nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))) {
  if (nonce.length !== NONCE_BYTES) throw new Error("a nonce is 16 bytes");
  const { enc, mac } = subKeys(userKey);
  const text = typeof plaintext === "string" ? plaintext : JSON.stringify(plaintext);
  const ciphertext = xorKeystream(enc, nonce, utf8ToBytes(text));
  return PREFIX + toBase64Url(concatBytes(nonce, ciphertext, tagOf(mac, nonce, ciphertext)));
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Open a sealed string: the plaintext object, or null when it cannot be opened (another key, a
 * changed or truncated string, not a JSON object). Never throws: the page then shows "details hidden".
 */
export function open(userKey, sealed) {
  try {
    if (typeof sealed !== "string" || !sealed.startsWith(PREFIX)) return null;
    const raw = fromBase64Url(sealed.slice(PREFIX.length));
    if (raw.length < NONCE_BYTES + TAG_BYTES) return null;
    const nonce = raw.subarray(0, NONCE_BYTES);
    const ciphertext = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const { enc, mac } = subKeys(userKey);
    if (!sameBytes(tagOf(mac, nonce, ciphertext), tag)) return null;
    const value = JSON.parse(UTF8.decode(xorKeystream(enc, nonce, ciphertext)));
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

// ----- decision proofs -----

/**
 * The proof for allowing or denying approval `approvalId`: base64url(HMAC-SHA256(k_proof,
 * "l2n-decision-v1\n" + id + "\n" + behavior + "\n" + hex(SHA-256(sealed)) + "\n" + hex(SHA-256(message)))),
 * `sealed` and `message` being "" when there are none.
 */
export function decisionProof(userKey, approvalId, behavior, sealed = "", message = "") {
  const digest = (text) => bytesToHex(sha256(utf8ToBytes(text || "")));
  const text = [PROOF_DOMAIN, approvalId, behavior, digest(sealed), digest(message)].join("\n");
  return toBase64Url(hmac(sha256, subKeys(userKey).proof, utf8ToBytes(text)));
}
