//! The WASI 0.2 WIT packages `wasi:http` and the packages it uses (`wasi:cli`,
//! `wasi:clocks`, `wasi:filesystem`, `wasi:io`, `wasi:random`, `wasi:sockets`), as the
//! `wasmtime-wasi-http` crate ships them in its `wit/deps/`. build.rs embeds them, so the
//! WIT a `wasi:http/proxy` project is written with is the WIT of the host that serves it,
//! and `wcomp new` needs no network.

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/wasi_wit.rs"));
}

/// The version of the embedded `wasi:http` package, e.g. `0.2.12`.
pub const HTTP_VERSION: &str = embedded::WASI_HTTP_VERSION;

/// The files of a project's `wit/deps/`: `(path relative to the project, contents)`.
pub fn deps_files() -> impl Iterator<Item = (String, &'static str)> {
    embedded::WASI_WIT_FILES
        .iter()
        .map(|(name, text)| (format!("wit/deps/{name}"), *text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_wit_resolves_the_proxy_world() {
        let mut resolve = wit_parser::Resolve::default();
        let dir = tempfile::tempdir().unwrap();
        let deps = dir.path().join("deps");
        fs_err::create_dir(&deps).unwrap();
        for (path, text) in deps_files() {
            fs_err::write(dir.path().join(path.trim_start_matches("wit/")), text).unwrap();
        }
        fs_err::write(
            dir.path().join("world.wit"),
            format!("package a:b;\nworld w {{ include wasi:http/proxy@{HTTP_VERSION}; }}\n"),
        )
        .unwrap();
        let (pkg, _) = resolve.push_dir(dir.path()).unwrap();
        let world = resolve.select_world(&[pkg], Some("w")).unwrap();
        let exports: Vec<String> = resolve.worlds[world]
            .exports
            .keys()
            .map(|k| resolve.name_world_key(k))
            .collect();
        assert_eq!(
            exports,
            [format!("wasi:http/incoming-handler@{HTTP_VERSION}")]
        );
    }
}
