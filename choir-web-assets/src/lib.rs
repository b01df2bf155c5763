//! The web mirror's files, embedded at build time (see `build.rs`): `/` is the desktop page,
//! `/auth.html` the sign-in page the hypervisor serves, and `/assets/...` their content-hashed
//! files. They hold no secret: the daemon serves them without a token (the page takes the
//! token from its URL), the hypervisor to anyone (the page needs a session to do anything).

use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, REFERRER_POLICY, VARY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    pub route: &'static str,
    pub etag: &'static str,
    pub raw: &'static [u8],
    pub gzip: &'static [u8],
}

static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Whether this build has the web mirror.
pub fn embedded() -> bool {
    !ASSETS.is_empty()
}

/// What the page may load and do: its own files and socket, nothing else. (Styles inline:
/// the desktop places windows with `style` attributes.)
const POLICY: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The page shown by a daemon built without the web mirror.
const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>ChoirOS</title></head><body><h1>The web mirror is not built into this daemon</h1>\
<p>Run <code>scripts/build-web.sh</code>, then build <code>choir-daemon</code> again \
(<code>scripts/start.sh</code> does both), and restart the daemon.</p>\
<p>The terminal desktop works meanwhile: run <code>choir</code>.</p></body></html>";

/// An axum handler for `/` and `/assets/{*file}`.
pub async fn page(uri: Uri, headers: HeaderMap) -> Response {
    serve(ASSETS, uri.path(), &headers)
}

/// The file at `path` (`/` for the desktop page), with caching headers, gzip when the client
/// takes it, and the page's security headers.
pub fn file(path: &str, headers: &HeaderMap) -> Response {
    serve(ASSETS, path, headers)
}

/// The HTML page at `route` with `<meta name content>` tags added to its head: how a server
/// tells the page what it needs to know (who is signed in, where to sign in). Never cached.
pub fn page_with_meta(route: &str, meta: &[(&str, &str)]) -> Response {
    with_meta(ASSETS, route, meta)
}

fn with_meta(assets: &[Asset], route: &str, meta: &[(&str, &str)]) -> Response {
    let Some(asset) = assets.iter().find(|asset| asset.route == route) else {
        return serve(assets, route, &HeaderMap::new());
    };
    let html = String::from_utf8_lossy(asset.raw);
    let tags: String = meta
        .iter()
        .map(|(name, content)| {
            format!(
                "<meta name=\"{}\" content=\"{}\">",
                escape(name),
                escape(content)
            )
        })
        .collect();
    let html = match html.find("</head>") {
        Some(at) => format!("{}{tags}{}", &html[..at], &html[at..]),
        None => format!("{tags}{html}"),
    };
    let mut headers = HeaderMap::new();
    guard(&mut headers, "text/html; charset=utf-8");
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (headers, html).into_response()
}

/// Text made safe inside an HTML attribute.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn serve(assets: &[Asset], path: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets.iter().find(|asset| asset.route == path) else {
        if path == "/" {
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, NOT_BUILT).into_response();
            guard(response.headers_mut(), "text/html; charset=utf-8");
            return response;
        }
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    let mut response_headers = HeaderMap::new();
    guard(&mut response_headers, content_type(asset.route));
    response_headers.insert(ETAG, HeaderValue::from_static(asset.etag));
    response_headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    // Hashed names never change content: keep them. The page itself is checked each time.
    let cache = if asset.route.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == asset.etag || tag.trim() == "*")
        });
    if fresh {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    let gzip_ok = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next() == Some("gzip") && parts.all(|param| param != "q=0")
        });
    if gzip_ok && asset.gzip.len() < asset.raw.len() {
        response_headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        return (response_headers, asset.gzip).into_response();
    }
    (response_headers, asset.raw).into_response()
}

/// Headers every page response carries.
fn guard(headers: &mut HeaderMap, content_type: &'static str) {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // The first URL carries the token: never send it on as a referrer.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if content_type.starts_with("text/html") {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    }
}

fn content_type(route: &str) -> &'static str {
    match route.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ if route == "/" || route.ends_with(".html") => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    const INDEX: &[u8] = b"<html>ChoirOS</html>";
    const WASM_GZ: &[u8] = b"\x1f\x8bsmall";
    static FAKE: &[Asset] = &[
        Asset {
            route: "/",
            etag: "\"abc\"",
            raw: INDEX,
            gzip: b"\x1f\x8b a gzip larger than the page itself, so not worth it",
        },
        Asset {
            route: "/assets/app-1234_bg.wasm",
            etag: "\"def\"",
            raw: b"\0asm a wasm module of some length",
            gzip: WASM_GZ,
        },
    ];

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    async fn body(response: Response) -> Vec<u8> {
        to_bytes(response.into_body(), 1 << 20)
            .await
            .map(|bytes| bytes.to_vec())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn the_page_is_revalidated_and_hashed_files_are_kept_for_good() {
        let page = serve(FAKE, "/", &request(&[]));
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
        assert_eq!(page.headers()[ETAG], "\"abc\"");
        assert_eq!(page.headers()[REFERRER_POLICY], "no-referrer");
        assert!(page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .is_ok_and(|policy| policy.contains("connect-src 'self'")));
        assert_eq!(body(page).await, INDEX);

        let again = serve(FAKE, "/", &request(&[("if-none-match", "\"abc\"")]));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).await.is_empty());

        let wasm = serve(FAKE, "/assets/app-1234_bg.wasm", &request(&[]));
        assert_eq!(wasm.headers()[CONTENT_TYPE], "application/wasm");
        assert!(wasm.headers()[CACHE_CONTROL]
            .to_str()
            .is_ok_and(|cache| cache.contains("immutable")));
    }

    #[tokio::test]
    async fn gzip_goes_to_clients_that_take_it_and_only_when_smaller() {
        let path = "/assets/app-1234_bg.wasm";
        let zipped = serve(
            FAKE,
            path,
            &request(&[("accept-encoding", "br, gzip;q=0.8")]),
        );
        assert_eq!(zipped.headers()[CONTENT_ENCODING], "gzip");
        assert_eq!(body(zipped).await, WASM_GZ);
        let refused = serve(FAKE, path, &request(&[("accept-encoding", "gzip;q=0, br")]));
        assert!(!refused.headers().contains_key(CONTENT_ENCODING));
        let plain = serve(FAKE, path, &request(&[]));
        assert!(body(plain).await.starts_with(b"\0asm"));
        let page = serve(FAKE, "/", &request(&[("accept-encoding", "gzip")]));
        assert!(!page.headers().contains_key(CONTENT_ENCODING));
    }

    #[tokio::test]
    async fn meta_tags_go_into_the_head_escaped_and_the_page_is_not_cached() {
        let page = with_meta(FAKE, "/", &[("choir-user", "a\"><script>")]);
        assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
        assert!(page.headers().contains_key(CONTENT_SECURITY_POLICY));
        let text = String::from_utf8(body(page).await).unwrap_or_default();
        assert_eq!(
            text,
            "<meta name=\"choir-user\" content=\"a&quot;&gt;&lt;script&gt;\"><html>ChoirOS</html>"
        );
    }

    #[tokio::test]
    async fn unknown_files_are_not_found_and_without_a_build_the_page_says_how_to_make_one() {
        let missing = serve(FAKE, "/assets/../../token", &request(&[]));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let unbuilt = serve(&[], "/", &request(&[]));
        assert_eq!(unbuilt.status(), StatusCode::SERVICE_UNAVAILABLE);
        let text = String::from_utf8(body(unbuilt).await).unwrap_or_default();
        assert!(text.contains("scripts/build-web.sh"), "{text}");
    }
}
