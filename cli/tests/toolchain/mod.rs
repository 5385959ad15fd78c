//! Helpers shared by the tests that build with the real language toolchains
//! (templates_build, new_world, pipeline): running `wcomp`, showing its output, asking
//! `wcomp doctor` whether a toolchain is ready, and a WASI host for calling components.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub fn wcomp(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether `language`'s toolchain is ready, by `wcomp doctor --json`.
pub fn toolchain_ready(language: &str) -> bool {
    let o = wcomp(Path::new("."), &["doctor", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ready = all
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["language"] == language && s["ready"] == true);
    if !ready {
        assert!(
            std::env::var_os("CI").is_none(),
            "the {language} toolchain is missing under CI; scripts/install-toolchains.sh should have installed it"
        );
        eprintln!(
            "skipping: the {language} toolchain is not installed (scripts/install-toolchains.sh)"
        );
    }
    ready
}

pub struct Host {
    pub ctx: WasiCtx,
    pub table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}
