//! The web app, embedded at build time (see `build.rs`), served with security headers.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Allows only this origin's scripts; WebAssembly compilation needs `'wasm-unsafe-eval'`.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const NOT_BUILT_PAGE: &str = "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\">\
     <title>Nouage</title><p>L'application web n'est pas construite : lancez <code>cargo xtask dist</code>.</p>\
     <p lang=\"en\">The web app is not built: run <code>cargo xtask dist</code>.</p></html>";

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    // Board links (`/b/{id}`), join links (`/j/{code}`) and the home page are routes of the
    // single-page app.
    let wanted = if path == "/" || path.starts_with("/b/") || path.starts_with("/j/") {
        "/index.html"
    } else {
        path
    };
    let found = ASSETS.iter().find(|(route, _)| *route == wanted);
    let mut response = match found {
        Some((route, bytes)) => ([(header::CONTENT_TYPE, mime(route))], *bytes).into_response(),
        None if wanted == "/index.html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            NOT_BUILT_PAGE,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn mime(route: &str) -> &'static str {
    match route.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}
