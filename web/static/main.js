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
