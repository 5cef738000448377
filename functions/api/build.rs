//! Gzips the web pages and the vendored library once, at build time, so the binary carries
//! them compressed (the chart page's JavaScript is a third of its size gzipped) and serves them
//! without compressing per request, and renders the `/docs` page from the committed
//! `openapi.json` (see `src/docs_page.rs`; a document it cannot render fails the build). Writes
//! `assets.rs`, a table the `web` module includes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

#[path = "src/docs_page.rs"]
mod docs_page;

/// (URL name, file under `assets/`, content type).
const ASSETS: &[(&str, &str, &str)] = &[
    ("chart.html", "chart.html", "text/html; charset=utf-8"),
    ("chart.js", "chart.js", "text/javascript; charset=utf-8"),
    ("chart.css", "chart.css", "text/css; charset=utf-8"),
    ("docs.css", "docs.css", "text/css; charset=utf-8"),
    (
        "lightweight-charts-5.2.1.js",
        "vendor/lightweight-charts-5.2.1.js",
        "text/javascript; charset=utf-8",
    ),
];

/// The licences page: every vendored library's licence, in one text file.
const LICENCES: &[&str] = &["vendor/lightweight-charts-5.2.1.LICENSE"];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn main() {
    // Linked position-dependent, like every function: see `functions/no-pie.rs`.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo::rustc-link-arg-bins=-no-pie");
    }
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out_dir);
    let mut table = String::from("&[\n");
    let mut add = |name: &str, content_type: &str, bytes: &[u8]| {
        let compressed = gzip(bytes);
        let file = format!("{name}.gz");
        std::fs::write(out.join(&file), &compressed).expect("write a compressed asset");
        let digest = Sha256::digest(bytes);
        let etag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(
            table,
            "    Asset {{ name: {name:?}, content_type: {content_type:?}, etag: \"\\\"{etag}\\\"\", \
             size: {}, gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\")) }},",
            bytes.len()
        );
    };
    for (name, file, content_type) in ASSETS {
        let path = Path::new("assets").join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).expect("read an asset");
        add(name, content_type, &bytes);
    }
    let mut licences = Vec::new();
    for file in LICENCES {
        let path = Path::new("assets").join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let _ = writeln!(licences, "==== {file} ====\n");
        licences.extend(std::fs::read(&path).expect("read a licence"));
        licences.extend(b"\n\n");
    }
    add("licenses", "text/plain; charset=utf-8", &licences);
    println!("cargo::rerun-if-changed=openapi.json");
    println!("cargo::rerun-if-changed=src/docs_page.rs");
    let text = std::fs::read_to_string("openapi.json").expect("read openapi.json");
    let document: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("functions/api/openapi.json is not JSON: {error}"));
    let page = docs_page::render(&document).unwrap_or_else(|error| {
        panic!("functions/api/openapi.json cannot be rendered into the /docs page: {error}")
    });
    add("docs.html", "text/html; charset=utf-8", page.as_bytes());
    table.push(']');
    std::fs::write(out.join("assets.rs"), table).expect("write the asset table");
}
