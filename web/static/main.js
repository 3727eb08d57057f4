// Loads the WebAssembly app; kept in a file so the Content-Security-Policy needs no inline script.
import init from "/web.js";

// Small browser chores the app calls by name, kept in JavaScript to keep the WebAssembly small.

// Fails with the API's `{"error": ...}` message, or the HTTP status.
async function failure(response) {
  const text = await response.text();
  try {
    return new Error(JSON.parse(text).error);
  } catch {
    return new Error(`HTTP ${response.status}`);
  }
}

// Downloads an export with the token in a header (never in the URL, so never in logs).
window.nouageDownload = async (url, token, filename) => {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw (await failure(response)).message;
  const href = URL.createObjectURL(await response.blob());
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
};

// The timer's end: two soft notes (Web Audio, nothing downloaded). A page the person never
// touched may not play sound (the browser's autoplay rule): then nothing is heard.
window.nouageChime = () => {
  try {
    const audio = new AudioContext();
    [[660, 0], [880, 0.35]].forEach(([hz, at]) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, audio.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.08, audio.currentTime + at + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + at + 0.9);
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + at);
      tone.stop(audio.currentTime + at + 1);
    });
    setTimeout(() => audio.close(), 2000);
  } catch {
    // No Web Audio: the timer's "time is up" is shown, not heard.
  }
};

// Fetches an export (the board as it was, for the history panel) with the token in a header
// and returns a blob: URL for an <img>; the previous one is released.
let pastUrl = null;
window.nouageObjectUrl = async (url, token) => {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) throw (await failure(response)).message;
  if (pastUrl) URL.revokeObjectURL(pastUrl);
  pastUrl = URL.createObjectURL(await response.blob());
  return pastUrl;
};

// Imports the file chosen in the input `inputId` as a new board; resolves to the API's answer
// (the JSON of a created board). The format comes from the file name.
window.nouageImport = async (inputId, lang) => {
  const file = document.getElementById(inputId)?.files?.[0];
  if (!file) throw "no file";
  const ext = file.name.toLowerCase().split(".").pop();
  const format = { mm: "mm", opml: "opml", md: "md", markdown: "md", txt: "md", yjs: "yjs", bin: "yjs" }[ext];
  if (!format) throw `.${ext}: .mm .opml .md .yjs`;
  const response = await fetch(`/api/boards/import?format=${format}&lang=${lang}`, {
    method: "POST",
    body: file,
  });
  if (!response.ok) throw (await failure(response)).message;
  return await response.text();
};

init();

// The app shell for offline use (see sw.js); a browser without service workers works online.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {});
}

// A board's document kept on this device, in IndexedDB, in y-indexeddb's layout (a database
// per document with an `updates` store of Yjs updates and a `custom` store), so edits made
// offline survive a reload and reach the others when the connection returns.
function openLocalDoc(name) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains("updates")) db.createObjectStore("updates", { autoIncrement: true });
      if (!db.objectStoreNames.contains("custom")) db.createObjectStore("custom");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error);
  });
}

// Writes go one after the other, in order, and never fail the caller: a browser without
// IndexedDB (or with a full disk) works online only.
let writes = Promise.resolve();
function quietly(write) {
  writes = writes.then(async () => {
    try {
      await write();
    } catch {
      // The copy on the device is a convenience; the server keeps the board.
    }
  });
  return writes;
}

window.nouageLocalDoc = {
  // Resolves once every write asked so far is on the device.
  settled() {
    return writes;
  },
  // Every update kept for `name`, oldest first.
  async load(name) {
    const db = await openLocalDoc(name);
    const transaction = db.transaction("updates", "readonly");
    const request = transaction.objectStore("updates").getAll();
    await done(transaction);
    db.close();
    return request.result.map((update) => new Uint8Array(update));
  },
  append(name, update) {
    return quietly(async () => {
      const db = await openLocalDoc(name);
      const transaction = db.transaction("updates", "readwrite");
      transaction.objectStore("updates").add(update);
      await done(transaction);
      db.close();
    });
  },
  // Replaces every update kept with one (the whole document), so the store stays small.
  replace(name, update) {
    return quietly(async () => {
      const db = await openLocalDoc(name);
      const transaction = db.transaction("updates", "readwrite");
      const store = transaction.objectStore("updates");
      store.clear();
      store.add(update);
      await done(transaction);
      db.close();
    });
  },
};

// Brings an element to the middle of the board's own scrolling area (a followed leader's
// chosen note or project), never scrolling the page: `scrollIntoView` would also move the
// page itself when the area cannot scroll far enough, pulling the phone's drawer up.
window.nouageReveal = (selector) => {
  const element = document.querySelector(selector);
  if (!element) return;
  let area = element.parentElement;
  while (area && area !== document.body) {
    const overflow = getComputedStyle(area).overflowY;
    if ((overflow === "auto" || overflow === "scroll") && area.scrollHeight > area.clientHeight) break;
    area = area.parentElement;
  }
  if (!area || area === document.body) return;
  const box = element.getBoundingClientRect();
  const frame = area.getBoundingClientRect();
  area.scrollTop += box.top - frame.top - (area.clientHeight - box.height) / 2;
  const overflowX = getComputedStyle(area).overflowX;
  if (overflowX === "auto" || overflowX === "scroll") {
    area.scrollLeft += box.left - frame.left - (area.clientWidth - box.width) / 2;
  }
};
