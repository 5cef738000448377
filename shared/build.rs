//! Writes `schema_version.rs` into OUT_DIR: the newest version among the files
//! `migrations/V<n>__<name>.sql`, which is the schema this build of the library expects. It is
//! read from the file names themselves, so a new migration raises it with no second list kept
//! by hand, and the functions built without the `migrations` feature (which embed no
//! migration) still know it.

use std::collections::BTreeMap;
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=migrations");
    let mut versions = BTreeMap::new();
    let entries = std::fs::read_dir("migrations").unwrap_or_else(|e| panic!("migrations/: {e}"));
    for entry in entries {
        let name = entry
            .unwrap_or_else(|e| panic!("migrations/: {e}"))
            .file_name()
            .into_string()
            .unwrap_or_else(|name| panic!("migrations/{name:?}: not a UTF-8 file name"));
        if !name.ends_with(".sql") {
            continue;
        }
        let version = version_of(&name).unwrap_or_else(|| {
            panic!("migrations/{name}: expected V<number>__<name>.sql, the names refinery applies")
        });
        if let Some(other) = versions.insert(version, name.clone()) {
            panic!("migrations/{name} and migrations/{other} share version {version}");
        }
    }
    let Some((version, _)) = versions.last_key_value() else {
        panic!("migrations/ holds no V<number>__<name>.sql file");
    };
    let out =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schema_version.rs");
    std::fs::write(
        out,
        format!(
            "/// The newest migration's version when this build was compiled: the schema it expects.\n\
             pub const SCHEMA_VERSION: i32 = {version};\n"
        ),
    )
    .expect("OUT_DIR is writable");
}

/// The version of a migration file named as refinery expects, e.g. 6 for
/// `V6__data_events.sql`; `None` for any other name.
fn version_of(name: &str) -> Option<i32> {
    let stem = name.strip_suffix(".sql")?.strip_prefix('V')?;
    let (number, title) = stem.split_once("__")?;
    let title_ok = !title.is_empty() && title.chars().all(|c| c.is_alphanumeric() || c == '_');
    let number_ok = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    if title_ok && number_ok {
        number.parse().ok()
    } else {
        None
    }
}
