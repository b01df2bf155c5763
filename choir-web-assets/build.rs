//! Embeds the web mirror (built by `scripts/build-web.sh` into `choir-web/dist`, or the
//! directory `CHOIR_WEB_DIST` names) into the daemon: each file raw and gzipped, with an
//! ETag. Without a build there, the daemon serves a page that says how to make one. Never
//! runs cargo itself.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=CHOIR_WEB_DIST");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = std::env::var_os("CHOIR_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../choir-web/dist"));
    // A missing directory would rerun this script on every build: watch its parent then.
    match (dist.exists(), dist.parent()) {
        (true, _) | (false, None) => println!("cargo:rerun-if-changed={}", dist.display()),
        (false, Some(parent)) => println!("cargo:rerun-if-changed={}", parent.display()),
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut code = String::from("&[\n");
    for (n, (route, path)) in files.iter().enumerate() {
        let Ok(raw) = std::fs::read(path) else {
            continue;
        };
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gz = gzip
            .write_all(&raw)
            .and_then(|()| gzip.finish())
            .unwrap_or_default();
        let raw_file = out.join(format!("web-{n}"));
        let gz_file = out.join(format!("web-{n}.gz"));
        if std::fs::write(&raw_file, &raw).is_err() || std::fs::write(&gz_file, &gz).is_err() {
            continue;
        }
        let _ = writeln!(
            code,
            "    Asset {{ route: {route:?}, etag: \"\\\"{:016x}\\\"\", raw: include_bytes!({:?}), gzip: include_bytes!({:?}) }},",
            fnv1a(&raw),
            raw_file.display().to_string(),
            gz_file.display().to_string(),
        );
    }
    code.push(']');
    let _ = std::fs::write(out.join("web_assets.rs"), code);
}

/// Every file under `dir`, with its route (`/` for the index, `/assets/...` for the rest).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative.to_string_lossy().replace('\\', "/");
            let route = if relative == "index.html" {
                "/".to_owned()
            } else {
                format!("/{relative}")
            };
            files.push((route, path));
        }
    }
}

/// A content hash for ETags (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
