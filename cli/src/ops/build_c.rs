//! C and C++ -> component, with clang and a WASI sysroot.
//!
//! The pipeline:
//!
//! 1. [`locate`]: the compiler and its sysroot, either a wasi-sdk (`$WASI_SDK_PATH`:
//!    `bin/clang`, `share/wasi-sysroot`) or the `clang` on `PATH` with the sysroot it finds
//!    itself (Debian's `wasi-libc` in `/usr/lib/wasm32-wasi`); and `wit-bindgen` (the CLI,
//!    version [`WIT_BINDGEN_VERSION`]) from wcomp's tools directory or `PATH`.
//! 2. `wit-bindgen c` writes the bindings for the world into `gen/` in the project:
//!    `<world>.h` (types and the prototypes of the exported functions, which the user
//!    defines), `<world>.c` (the canonical-ABI glue) and `<world>_component_type.o` (the
//!    world, as a custom section); for C++ also `gen/wit.hpp` (helpers between the C
//!    types and std::string, std::vector and RAII owners). Files are rewritten only
//!    when they change.
//! 3. Every `.c` file of the project (and, for C++, every `.cpp`, `.cc` and `.cxx`) is
//!    compiled for `wasm32-wasi` (WASI preview1, which is what wasi-libc implements), with
//!    the project directory as the working directory so diagnostics name files as the
//!    user knows them; the objects are linked as a reactor (no `main`).
//! 4. wit-component turns the core module into a component (its world comes from the
//!    `<world>_component_type.o` linked in), adapting preview1 with the reactor adapter,
//!    as for Go ([`crate::ops::build_go::encode_with_adapter`]).
//!
//! C++ is compiled with `-fno-exceptions`: nothing can unwind out of an exported
//! function, and `operator new` failing aborts.

use crate::ops::HintedError;
use crate::ops::build::SKIP_DIRS;
use crate::ops::build_go::write_if_changed;
use crate::ops::manifest::{self, Language};
use anyhow::{Context as _, Result, bail};
use heck::ToSnakeCase as _;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use wit_parser::{Resolve, WorldId};

/// The wit-bindgen CLI release whose wit-parser and wit-component are the ones wcomp is
/// built with (0.262), so the bindings read WIT exactly as `wcomp build` does.
pub const WIT_BINDGEN_VERSION: &str = "0.63.0";

/// Where generated bindings go, relative to the project (never hashed as sources).
pub const GEN_DIR: &str = "gen";

/// The C++ helpers written to `gen/wit.hpp` for C++ projects: std::string and
/// std::vector across the C bindings' boundary, RAII for what they hand over.
pub const WIT_HPP: &str = include_str!("wit.hpp");

/// Flags every C file is compiled with.
pub const CFLAGS: &[&str] = &["-O2", "-Wall", "-std=gnu17"];
/// Flags every C++ file is compiled with.
pub const CXXFLAGS: &[&str] = &["-O2", "-Wall", "-std=c++17", "-fno-exceptions"];

/// A C or C++ toolchain that can build components.
#[derive(Debug, Clone)]
pub struct CToolchain {
    /// `clang`, for C sources.
    pub clang: PathBuf,
    /// `clang++`, for C++ sources and for linking a C++ project.
    pub clangxx: PathBuf,
    /// `--sysroot`, for a wasi-sdk; `None` lets clang find its own (Debian).
    pub sysroot: Option<PathBuf>,
    pub wit_bindgen: PathBuf,
}

/// What to install when the compiler or its sysroot is missing.
pub fn install_hint(language: Language) -> String {
    let cxx = if language == Language::Cpp {
        " libc++-14-dev-wasm32 libc++abi-14-dev-wasm32"
    } else {
        ""
    };
    format!(
        "on Debian or Ubuntu, install the packages with `apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32{cxx}` \
         (the `14` is your clang's major version); or download a wasi-sdk from \
         https://github.com/WebAssembly/wasi-sdk/releases and set WASI_SDK_PATH to its \
         directory (or run scripts/install-toolchains.sh)"
    )
}

/// What to run to get the wit-bindgen CLI.
pub fn wit_bindgen_hint() -> String {
    format!(
        "`cargo install --locked --root {}/wit-bindgen wit-bindgen-cli@{WIT_BINDGEN_VERSION}` \
         (or run scripts/install-toolchains.sh)",
        super::toolchain::tools_dir()
            .map_or("<tools dir>".to_string(), |d| d.display().to_string())
    )
}

/// Finds the compiler, its sysroot and wit-bindgen without running anything.
pub fn locate(language: Language) -> Result<CToolchain> {
    let (clang, clangxx, sysroot) = match std::env::var_os(crate::env::WASI_SDK_PATH) {
        Some(sdk) if !sdk.is_empty() => {
            let sdk = PathBuf::from(sdk);
            let bin = sdk.join("bin");
            let clang = bin.join("clang");
            let sysroot = sdk.join("share/wasi-sysroot");
            if !clang.is_file() || !sysroot.is_dir() {
                return Err(HintedError::new(
                    format!(
                        "WASI_SDK_PATH is `{}`, but it has no {}",
                        sdk.display(),
                        if clang.is_file() {
                            "share/wasi-sysroot"
                        } else {
                            "bin/clang"
                        },
                    ),
                    format!(
                        "point WASI_SDK_PATH at an unpacked wasi-sdk, or unset it to use the \
                         clang on PATH; {}",
                        install_hint(language)
                    ),
                )
                .into());
            }
            (clang, bin.join("clang++"), Some(sysroot))
        }
        _ => {
            let clang = super::toolchain::which("clang").ok_or_else(|| {
                HintedError::new(
                    "no C compiler for WebAssembly: clang is not on PATH and WASI_SDK_PATH \
                     is not set",
                    install_hint(language),
                )
            })?;
            let clangxx = clang.with_file_name("clang++");
            (clang, clangxx, None)
        }
    };
    if language == Language::Cpp && !clangxx.is_file() {
        return Err(HintedError::new(
            format!("no `clang++` next to `{}`", clang.display()),
            install_hint(language),
        )
        .into());
    }
    let wit_bindgen = locate_wit_bindgen()?;
    Ok(CToolchain {
        clang,
        clangxx,
        sysroot,
        wit_bindgen,
    })
}

/// The wit-bindgen CLI: wcomp's tools directory first, then `PATH`.
pub fn locate_wit_bindgen() -> Result<PathBuf> {
    super::toolchain::tools_dir()
        .map(|d| d.join("wit-bindgen/bin/wit-bindgen"))
        .filter(|p| p.is_file())
        .or_else(|| super::toolchain::which("wit-bindgen"))
        .ok_or_else(|| {
            HintedError::new(
                format!(
                    "wit-bindgen (the CLI, {WIT_BINDGEN_VERSION}) not found in wcomp's tools \
                     directory or on PATH"
                ),
                wit_bindgen_hint(),
            )
            .into()
        })
}

impl CToolchain {
    /// The programs whose identity keys the build cache.
    pub fn programs(&self, language: Language) -> Vec<PathBuf> {
        let mut p = vec![self.clang.clone()];
        if language == Language::Cpp {
            p.push(self.clangxx.clone());
        }
        p.push(self.wit_bindgen.clone());
        p
    }

    fn target_args(&self) -> Vec<String> {
        let mut args = vec!["--target=wasm32-wasi".to_string()];
        if let Some(s) = &self.sysroot {
            args.push(format!("--sysroot={}", s.display()));
        }
        args
    }

    /// Checks the compiler can build for wasm32-wasi (libc, compiler-rt, wasm-ld, and
    /// libc++ for C++) and wit-bindgen is the pinned version. Returns a one-line
    /// description: `clang 14.0.6 (/usr/bin/clang), sysroot ..., wit-bindgen 0.63.0`.
    pub fn check(&self, language: Language) -> Result<String> {
        let hint = install_hint(language);
        let version = output(&self.clang, &["--version"])?;
        let version = version
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let target = self.target_args();
        let find = |program: &Path, args: &[&str]| -> Result<Option<PathBuf>> {
            let mut all: Vec<&str> = target.iter().map(String::as_str).collect();
            all.extend(args);
            let found = PathBuf::from(output(program, &all)?.trim());
            Ok(found.is_absolute().then_some(found).filter(|p| p.exists()))
        };
        let missing = |what: &str| -> anyhow::Error {
            HintedError::new(
                format!(
                    "{} ({version}) cannot build for wasm32-wasi: {what} not found",
                    self.clang.display()
                ),
                hint.clone(),
            )
            .into()
        };
        let libc = find(&self.clang, &["-print-file-name=libc.a"])?
            .ok_or_else(|| missing("the WASI libc (libc.a)"))?;
        find(
            &self.clang,
            &["-rtlib=compiler-rt", "-print-libgcc-file-name"],
        )?
        .ok_or_else(|| missing("compiler-rt's builtins for wasm32"))?;
        find(&self.clang, &["-print-prog-name=wasm-ld"])?
            .ok_or_else(|| missing("the linker wasm-ld (lld)"))?;
        if language == Language::Cpp {
            find(&self.clangxx, &["-print-file-name=libc++.a"])?
                .ok_or_else(|| missing("libc++ for wasm32-wasi"))?;
            find(&self.clangxx, &["-print-file-name=libc++abi.a"])?
                .ok_or_else(|| missing("libc++abi for wasm32-wasi"))?;
        }
        let wb = output(&self.wit_bindgen, &["--version"])?;
        if !wb.split_whitespace().any(|w| w == WIT_BINDGEN_VERSION) {
            return Err(HintedError::new(
                format!(
                    "{} is `{}`, but wcomp needs wit-bindgen-cli {WIT_BINDGEN_VERSION}",
                    self.wit_bindgen.display(),
                    wb.trim()
                ),
                wit_bindgen_hint(),
            )
            .into());
        }
        let sysroot = match &self.sysroot {
            Some(s) => s.display().to_string(),
            None => libc
                .parent()
                .map_or_else(String::new, |p| p.display().to_string()),
        };
        let compiler = if language == Language::Cpp {
            &self.clangxx
        } else {
            &self.clang
        };
        Ok(format!(
            "{version} ({}), sysroot {sysroot}, wit-bindgen {WIT_BINDGEN_VERSION}",
            compiler.display()
        ))
    }
}

/// What `program args` prints on stdout; its stderr in the error when it fails.
fn output<A: AsRef<OsStr>>(program: &Path, args: &[A]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run `{}`", program.display()))?;
    if !out.status.success() {
        let args: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        bail!(
            "`{} {}` failed ({}): {}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The C name wit-bindgen gives a world: `my-world` -> `my_world` (the header is
/// `gen/my_world.h`, the types `my_world_string_t`, ...).
pub fn c_world_name(world: &str) -> String {
    world.to_snake_case()
}

/// Runs `wit-bindgen c` for `world` of the WIT at `wit` (a directory or file), into
/// `out_dir`: `<world>.h`, `<world>.c` and `<world>_component_type.o` (the world's
/// metadata, which the glue links in by reference).
pub fn generate_bindings(
    wit_bindgen: &Path,
    wit: &Path,
    world: &str,
    out_dir: &Path,
) -> Result<()> {
    let tmp = tempfile::tempdir().context("failed to create a temporary directory")?;
    // Borrowed handles passed to exports are dropped by the bindings when the export
    // returns, so the code written against them never has to.
    let args = [
        OsStr::new("c"),
        wit.as_os_str(),
        OsStr::new("--autodrop-borrows"),
        OsStr::new("yes"),
        OsStr::new("--world"),
        OsStr::new(world),
        OsStr::new("--out-dir"),
        tmp.path().as_os_str(),
    ];
    output(wit_bindgen, &args)?;
    let name = c_world_name(world);
    for file in [
        format!("{name}.h"),
        format!("{name}.c"),
        format!("{name}_component_type.o"),
    ] {
        let contents = fs_err::read(tmp.path().join(&file))
            .with_context(|| format!("`wit-bindgen c` wrote no `{file}`"))?;
        write_if_changed(&out_dir.join(&file), &contents)?;
    }
    Ok(())
}

/// The project's sources, relative to `dir`, sorted: `.c` files, and for C++ also
/// `.cpp`, `.cc` and `.cxx`. Build outputs, generated bindings and nested projects are
/// left out.
pub fn sources(dir: &Path, language: Language) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, language: Language, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in fs_err::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let ty = entry.file_type()?;
            if ty.is_dir() {
                if SKIP_DIRS.iter().any(|s| name == *s) || path.join(manifest::FILE_NAME).is_file()
                {
                    continue;
                }
                walk(root, &path, language, out)?;
            } else if ty.is_file() && source_kind(&path, language).is_some() {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, language, &mut out)?;
    out.sort();
    Ok(out)
}

/// Whether `path` is compiled as C (`Some(false)`) or C++ (`Some(true)`).
fn source_kind(path: &Path, language: Language) -> Option<bool> {
    match path.extension()?.to_str()? {
        "c" => Some(false),
        "cpp" | "cc" | "cxx" if language == Language::Cpp => Some(true),
        _ => None,
    }
}

/// A finished C or C++ build.
pub struct CBuild {
    pub component: Vec<u8>,
    pub core_module_len: usize,
    /// Every command run, with what it printed (warnings), for `-v`.
    pub log: String,
}

/// A compiler or linker run failed: the message is its diagnostics, as clang printed
/// them (`src/lib.c:3:5: error: ...`).
#[derive(Debug, thiserror::Error)]
#[error("{what} failed ({status})\n{output}")]
pub struct CompileFailed {
    pub what: String,
    pub status: String,
    pub output: String,
}

/// Builds the C or C++ project in `dir` into a component for `world` of the WIT at
/// `wit` (relative to `dir`).
pub fn build(
    tc: &CToolchain,
    language: Language,
    dir: &Path,
    wit: &Path,
    resolve: &Resolve,
    world: WorldId,
) -> Result<CBuild> {
    let world_name = &resolve.worlds[world].name;
    generate_bindings(
        &tc.wit_bindgen,
        &dir.join(wit),
        world_name,
        &dir.join(GEN_DIR),
    )?;
    if language == Language::Cpp {
        write_if_changed(&dir.join(GEN_DIR).join("wit.hpp"), WIT_HPP.as_bytes())?;
    }
    let mut srcs = sources(dir, language)?;
    if srcs.is_empty() {
        bail!(
            "`{}` has no {} sources; the exported functions to write are declared in \
             {GEN_DIR}/{}.h",
            dir.display(),
            if language == Language::Cpp {
                "C or C++"
            } else {
                "C"
            },
            c_world_name(world_name)
        );
    }
    srcs.push(Path::new(GEN_DIR).join(format!("{}.c", c_world_name(world_name))));
    let objs = tempfile::tempdir().context("failed to create a temporary directory")?;
    let mut log = String::new();
    let target = tc.target_args();
    let mut objects = Vec::new();
    for (i, src) in srcs.iter().enumerate() {
        let cxx = source_kind(src, language) == Some(true);
        let obj = objs.path().join(format!("{i}.o"));
        let mut cmd = Command::new(if cxx { &tc.clangxx } else { &tc.clang });
        cmd.args(&target)
            .args(if cxx { CXXFLAGS } else { CFLAGS })
            .args(["-I", GEN_DIR, "-c"])
            .arg(src)
            .arg("-o")
            .arg(&obj);
        run(
            &mut cmd,
            dir,
            &format!("compiling {}", src.display()),
            &mut log,
        )?;
        objects.push(obj);
    }
    let core = objs.path().join("core.wasm");
    let linker = if language == Language::Cpp {
        &tc.clangxx
    } else {
        &tc.clang
    };
    let mut cmd = Command::new(linker);
    cmd.args(&target)
        .args(["-mexec-model=reactor", "-Wl,--strip-debug"])
        .args(&objects)
        .arg(Path::new(GEN_DIR).join(format!("{}_component_type.o", c_world_name(world_name))))
        .arg("-o")
        .arg(&core);
    run(&mut cmd, dir, "linking", &mut log)?;
    let core = fs_err::read(&core)?;
    let core_module_len = core.len();
    let component = crate::ops::build_go::encode_with_adapter(&core)?;
    Ok(CBuild {
        component,
        core_module_len,
        log,
    })
}

fn run(cmd: &mut Command, dir: &Path, what: &str, log: &mut String) -> Result<()> {
    cmd.current_dir(dir).stdin(Stdio::null());
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = cmd
        .output()
        .with_context(|| format!("failed to run `{}`", cmd.get_program().to_string_lossy()))?;
    let mut printed = String::from_utf8_lossy(&out.stderr).into_owned();
    printed.push_str(&String::from_utf8_lossy(&out.stdout));
    log.push_str(&format!("$ {shown}\n{printed}"));
    if !out.status.success() {
        return Err(CompileFailed {
            what: what.to_string(),
            status: out.status.to_string(),
            output: printed,
        }
        .into());
    }
    Ok(())
}
