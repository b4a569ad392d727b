// What the service worker may read, in IndexedDB (database "live2d-notify", store "sw", key "push"):
// the API's base, this device's session token and the user key, written by the page only while push
// notifications are on for this device, and deleted when they are turned off or the page signs out.
// The service worker needs the key to open a push's sealed detail, and the session token (with the
// key, for the proof) to post a decision from a notification's Allow / Deny. Nothing else is kept.

const DB_NAME = "live2d-notify";
const STORE = "sw";
const KEY = "push";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function run(mode, act) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = act(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** `{ apiBase, session, userKey, deviceId }`, or null. */
export async function readPushState() {
  try {
    return (await run("readonly", (store) => store.get(KEY))) || null;
  } catch {
    return null;
  }
}

export function writePushState(state) {
  return run("readwrite", (store) => store.put(state, KEY));
}

export async function clearPushState() {
  try {
    await run("readwrite", (store) => store.delete(KEY));
  } catch {
    // No IndexedDB (private mode): nothing was kept.
  }
}
