// Loads the WebAssembly app; kept in a file so the Content-Security-Policy needs no inline script.
import init from "/web.js";
init();
