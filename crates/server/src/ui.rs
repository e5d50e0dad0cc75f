//! The web UI: static files embedded in the binary (`crates/server/ui/`), served at `/` and
//! `/assets/*` with their content types, an `ETag` for revalidation and security headers.
//! Nothing is read from disk at run time and building needs no npm.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    Asset {
        path: "index.html",
        mime: "text/html; charset=utf-8",
        body: include_bytes!("../ui/index.html"),
    },
    Asset {
        path: "app.js",
        mime: JS,
        body: include_bytes!("../ui/app.js"),
    },
    Asset {
        path: "api.js",
        mime: JS,
        body: include_bytes!("../ui/api.js"),
    },
    Asset {
        path: "render.js",
        mime: JS,
        body: include_bytes!("../ui/render.js"),
    },
    Asset {
        path: "app.css",
        mime: CSS,
        body: include_bytes!("../ui/app.css"),
    },
    Asset {
        path: "favicon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("../ui/favicon.svg"),
    },
    Asset {
        path: "vendor/codemirror.js",
        mime: JS,
        body: include_bytes!("../ui/vendor/codemirror.js"),
    },
    Asset {
        path: "vendor/codemirror.css",
        mime: CSS,
        body: include_bytes!("../ui/vendor/codemirror.css"),
    },
    Asset {
        path: "vendor/sql.js",
        mime: JS,
        body: include_bytes!("../ui/vendor/sql.js"),
    },
];

/// Whether `path` is one of the UI's public paths (served without an API token, so the sign-in
/// page can load).
pub fn is_ui_path(path: &str) -> bool {
    path == "/" || path == "/favicon.ico" || path.starts_with("/assets/")
}

/// A strong ETag per asset: FNV-1a of the bytes, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in a.body {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                format!("\"{h:016x}-{}\"", a.body.len())
            })
            .collect()
    })
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == name) else {
        return crate::error::ApiError::new(
            StatusCode::NOT_FOUND,
            "asset_not_found",
            format!("no web UI file named {name}"),
        )
        .into_response();
    };
    let asset = &ASSETS[i];
    let etag = &etags()[i];
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime))],
            asset.body,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    // File names carry no hash, so browsers revalidate every time (a 304 when unchanged).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if name == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                 base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    resp
}

/// `GET /`: the single page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /favicon.ico`: the icon (SVG).
pub async fn favicon(headers: HeaderMap) -> Response {
    serve("favicon.svg", &headers)
}

/// `GET /assets/{*path}`: a script, stylesheet or vendored library.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_distinct_etag() {
        let tags = etags();
        assert_eq!(tags.len(), ASSETS.len());
        for (i, t) in tags.iter().enumerate() {
            assert!(t.starts_with('"') && t.ends_with('"'));
            assert!(
                !tags[i + 1..].contains(t),
                "{} shares an etag",
                ASSETS[i].path
            );
        }
    }

    #[test]
    fn serves_304_when_unchanged() {
        let first = serve("app.js", &HeaderMap::new());
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(serve("app.js", &h).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(
            serve("nope.js", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn ui_paths() {
        assert!(is_ui_path("/"));
        assert!(is_ui_path("/assets/app.js"));
        assert!(!is_ui_path("/api/v1/notebooks"));
    }
}
