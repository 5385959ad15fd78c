//! `wcomp new` and `wcomp templates`: every refusal writes nothing.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    tmp: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }
    fn wcomp(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_wcomp"))
            .args(args)
            .current_dir(self.tmp.path())
            .env("WCOMP_CONFIG_DIR", self.path("config"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// Nothing but the config dir (if created) exists in the scratch directory.
fn assert_nothing_written(env: &Env) {
    let left: Vec<String> = files(env.tmp.path())
        .into_iter()
        .filter(|f| !f.starts_with("config/") && !f.starts_with("tmpl/"))
        .collect();
    assert!(left.is_empty(), "files were written: {left:?}");
}

#[test]
fn every_builtin_template_renders_a_project() {
    let env = Env::new();
    for t in [
        "rust",
        "go",
        "python",
        "js",
        "rust-http",
        "go-http",
        "python-http",
        "js-http",
        "c",
        "cpp",
    ] {
        let dir = format!("p-{t}");
        let o = env.wcomp(&[
            "new",
            t,
            &dir,
            "--name",
            "acme:my-thing",
            "--set",
            "greeting=Howdy",
        ]);
        assert!(o.status.success(), "{t}: {}", stderr(&o));
        let root = env.path(&dir);
        let manifest = std::fs::read_to_string(root.join("wcomp.toml")).unwrap();
        assert!(manifest.contains("name = \"acme:my-thing\""), "{manifest}");
        assert!(manifest.contains("world = \"my-thing\""), "{manifest}");
        let wit = std::fs::read_to_string(root.join("wit/world.wit")).unwrap();
        assert!(wit.starts_with("package acme:my-thing@0.1.0;"), "{wit}");
        assert!(root.join("README.md").is_file());
        // No template syntax is left anywhere.
        for f in files(&root) {
            let text = std::fs::read_to_string(root.join(&f)).unwrap();
            assert!(
                !text.contains("{{") && !text.contains("{%"),
                "{t}/{f} still has template syntax"
            );
            if f.starts_with("src/") || f.starts_with("app.") || f.starts_with("export_") {
                assert!(text.contains("Howdy"), "{t}/{f} lacks the greeting");
            }
        }
        // A package named like the templates' interface still gets WIT that parses.
        let dir = format!("g-{t}");
        let o = env.wcomp(&["new", t, &dir, "--name", "acme:greeter"]);
        assert!(o.status.success(), "{t}: {}", stderr(&o));
        let mut resolve = wit_parser::Resolve::default();
        if let Err(e) = resolve.push_dir(env.path(&dir).join("wit")) {
            panic!("{t} with acme:greeter: {e:#}");
        }
    }
}

/// The HTTP templates get the WASI WIT wcomp embeds in `wit/deps/`, one package per
/// file, and a world that includes `wasi:http/proxy` at that version; `--http` picks a
/// language's HTTP template.
#[test]
fn http_templates_get_the_wasi_wit_and_http_picks_them() {
    let env = Env::new();
    for (args, dir) in [
        (&["new", "rust-http", "a"][..], "a"),
        (&["new", "python", "b", "--http"][..], "b"),
    ] {
        let o = env.wcomp(args);
        assert!(o.status.success(), "{}", stderr(&o));
        let root = env.path(dir);
        let deps: Vec<String> = files(&root.join("wit/deps"));
        assert_eq!(
            deps,
            [
                "cli.wit",
                "clocks.wit",
                "filesystem.wit",
                "http.wit",
                "io.wit",
                "random.wit",
                "sockets.wit"
            ]
        );
        let http = std::fs::read_to_string(root.join("wit/deps/http.wit")).unwrap();
        let version = http
            .lines()
            .find_map(|l| l.strip_prefix("package wasi:http@"))
            .and_then(|v| v.strip_suffix(';'))
            .expect("a wasi:http package");
        let world = std::fs::read_to_string(root.join("wit/world.wit")).unwrap();
        assert!(
            world.contains(&format!("include wasi:http/proxy@{version};")),
            "{world}"
        );
    }
    assert!(env.path("b/app.py").is_file());
    let app = std::fs::read_to_string(env.path("b/app.py")).unwrap();
    assert!(app.contains("class IncomingHandler"), "{app}");

    // A language without an HTTP template says so, and writes nothing.
    let o = env.wcomp(&["new", "rsut", "c", "--http"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("template `rsut` has no HTTP variant"), "{err}");
    assert!(err.contains("unknown template `rsut-http`"), "{err}");
    assert!(!env.path("c").exists());
}

#[test]
fn unknown_template_lists_close_names_and_writes_nothing() {
    let env = Env::new();
    let o = env.wcomp(&["new", "rsut", "p"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown template `rsut`"), "{err}");
    assert!(err.contains("did you mean `rust`"), "{err}");
    assert!(
        err.contains(
            "available templates: c, cpp, go, go-http, js, js-http, python, python-http, rust, \
             rust-http"
        ),
        "{err}"
    );
    assert_nothing_written(&env);
}

#[test]
fn bad_values_are_refused_before_writing() {
    let env = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (&["--name", "NotWit"], "does not match the pattern"),
        (&["--name", "a:b:c"], "does not match the pattern"),
        (
            &["--set", "greeting=\"); panic!(\""],
            "parameter `greeting`",
        ),
        (&["--set", "nope=1"], "has no parameter `nope`"),
        (&["--set", "greeting"], "is not KEY=VALUE"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["new", "rust", "p"];
        args.extend_from_slice(extra);
        let o = env.wcomp(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{extra:?}: {}", stderr(&o));
        assert_nothing_written(&env);
    }
}

#[test]
fn values_file_sets_parameters_and_set_wins() {
    let env = Env::new();
    std::fs::write(
        env.path("values.toml"),
        "name = \"acme:from-file\"\ngreeting = \"Hey\"\n",
    )
    .unwrap();
    let o = env.wcomp(&[
        "new",
        "js",
        "p",
        "--values-file",
        "values.toml",
        "--set",
        "greeting=Yo",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let app = std::fs::read_to_string(env.path("p/app.js")).unwrap();
    assert!(app.contains("Yo, ${name}!"), "{app}");
    let wit = std::fs::read_to_string(env.path("p/wit/world.wit")).unwrap();
    assert!(wit.contains("acme:from-file"), "{wit}");
}

#[test]
fn non_empty_directory_needs_force() {
    let env = Env::new();
    std::fs::create_dir(env.path("p")).unwrap();
    std::fs::write(env.path("p/keep.txt"), "mine").unwrap();
    let o = env.wcomp(&["new", "python", "p"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("exists and is not empty"),
        "{}",
        stderr(&o)
    );
    assert_eq!(files(&env.path("p")), vec!["keep.txt"]);
    let o = env.wcomp(&["new", "python", "p", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env.path("p/app.py").is_file());
    assert_eq!(
        std::fs::read_to_string(env.path("p/keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn empty_existing_directory_is_used() {
    let env = Env::new();
    std::fs::create_dir(env.path("p")).unwrap();
    let o = env.wcomp(&["new", "rust", "p"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env.path("p/src/lib.rs").is_file());
}

fn write_user_template(env: &Env, file_name: &str) {
    let t = env.path("tmpl");
    std::fs::create_dir_all(t.join("content")).unwrap();
    std::fs::write(
        t.join("template.toml"),
        "name = \"evil\"\nlanguage = \"rust\"\ndescription = \"test\"\n\n[[parameter]]\nname = \"name\"\ndescription = \"pkg\"\ndefault = \"a:b\"\n\n[[parameter]]\nname = \"dir\"\ndescription = \"free text\"\ndefault = \"x\"\n",
    )
    .unwrap();
    let target = t.join("content").join(file_name);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::write(target, "hello").unwrap();
}

#[test]
fn path_traversal_through_a_parameter_is_refused() {
    let env = Env::new();
    write_user_template(&env, "{{ dir }}/file.txt");
    let o = env.wcomp(&["templates", "add", "tmpl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.wcomp(&["new", "evil", "p", "--set", "dir=../../escaped"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("refusing to write outside the project"),
        "{}",
        stderr(&o)
    );
    assert!(
        !env.path("escaped").exists() && !env.tmp.path().parent().unwrap().join("escaped").exists()
    );
    assert_nothing_written(&env);
    // The same template with a harmless value works.
    let o = env.wcomp(&["new", "evil", "p", "--set", "dir=sub"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(env.path("p/sub/file.txt").is_file());
}

#[test]
fn absolute_file_names_are_refused() {
    let env = Env::new();
    write_user_template(&env, "{{ dir }}");
    env.wcomp(&["templates", "add", "tmpl"]);
    let o = env.wcomp(&["new", "evil", "p", "--set", "dir=/tmp/wcomp-evil"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is absolute"), "{}", stderr(&o));
    assert_nothing_written(&env);
}

#[cfg(unix)]
#[test]
fn symlinks_in_user_templates_are_refused() {
    let env = Env::new();
    write_user_template(&env, "ok.txt");
    std::os::unix::fs::symlink("/etc/passwd", env.path("tmpl/content/passwd")).unwrap();
    let o = env.wcomp(&["templates", "add", "tmpl"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is a symlink"), "{}", stderr(&o));
    assert!(!env.path("config/templates/evil").exists());
}

#[test]
fn user_templates_are_listed_and_shadow_builtins() {
    let env = Env::new();
    write_user_template(&env, "ok.txt");
    let toml = std::fs::read_to_string(env.path("tmpl/template.toml")).unwrap();
    std::fs::write(
        env.path("tmpl/template.toml"),
        toml.replace("\"evil\"", "\"rust\""),
    )
    .unwrap();
    assert!(env.wcomp(&["templates", "add", "tmpl"]).status.success());
    let o = env.wcomp(&["templates", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rust = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "rust")
        .unwrap();
    assert_eq!(rust["origin"], "user");
    assert_eq!(rust["description"], "test");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "c",
            "cpp",
            "go",
            "go-http",
            "js",
            "js-http",
            "python",
            "python-http",
            "rust",
            "rust-http"
        ]
    );
    let o = env.wcomp(&["templates", "show", "python"]);
    assert!(stdout(&o).contains("greeting"), "{}", stdout(&o));
}

#[test]
fn templates_list_json_has_parameters() {
    let env = Env::new();
    let o = env.wcomp(&["templates", "list", "--json"]);
    assert!(o.status.success());
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for t in list.as_array().unwrap() {
        let params: Vec<&str> = t["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["name", "greeting"], "{t}");
        assert_eq!(t["origin"], "builtin");
    }
}

/// `templates list` lines up its columns: every language starts in one column and every
/// description in another, however long the names are.
#[test]
fn templates_list_aligns_its_columns() {
    let env = Env::new();
    let o = env.wcomp(&["templates", "list"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let skip_spaces = |l: &str, from: usize| from + l[from..].len() - l[from..].trim_start().len();
    let columns: Vec<(usize, usize)> = text
        .lines()
        .map(|l| {
            let language = skip_spaces(l, l.find(' ').unwrap());
            let description = skip_spaces(l, language + l[language..].find(' ').unwrap());
            (language, description)
        })
        .collect();
    assert!(columns.len() >= 8, "{text}");
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
}
