//! The command line is parsed one command at a time when it can be. Building clap's whole
//! tree (every command, its arguments and help texts) costs about 0.3 ms per run, about
//! 6% of composing two small components: `benches/compose.sh` showed small compositions
//! at 1.01-1.05x wac's time without this, and at or under it with it
//! (docs/benchmarks.md). So the command named first is built and parsed alone, and
//! anything that does not parse that way (help, `--version`, a mistake, an unknown
//! command) is parsed again with the full tree, which reports it exactly as clap does.

use super::{Cli, Command};

/// Generates [`Cli::parse_fast`] and [`fast_command`] for every command: one list, so a
/// command cannot be left out of one and not the other.
macro_rules! commands {
    ($($name:literal => $variant:ident($opts:ty)),* $(,)?) => {
        /// The one command `name`, built alone, as the full tree builds it: its
        /// arguments and subcommands (the about text and help come from the full tree).
        fn fast_command(name: &str) -> Option<clap::Command> {
            match name {
                $($name => Some(<$opts as clap::Args>::augment_args(clap::Command::new($name))),)*
                _ => None,
            }
        }

        impl Cli {
            fn parse_fast(name: &str, args: &[std::ffi::OsString]) -> Option<Cli> {
                let matches = fast_command(name)?.try_get_matches_from(args).ok()?;
                let command = match name {
                    $($name => Command::$variant(
                        <$opts as clap::FromArgMatches>::from_arg_matches(&matches).ok()?,
                    ),)*
                    _ => return None,
                };
                Some(Cli { command })
            }
        }
    };
}

commands! {
    "new" => New(super::new::Opts),
    "templates" => Templates(super::templates::Opts),
    "build" => Build(super::build::Opts),
    "compose" => Compose(super::compose::Opts),
    "doctor" => Doctor(super::doctor::Opts),
    "inspect" => Inspect(super::inspect::Opts),
    "validate" => Validate(super::validate::Opts),
    "run" => Run(super::run::Opts),
    "serve" => Serve(super::serve::Opts),
    "test" => Test(super::test::Opts),
    "key" => Key(super::key::Opts),
    "login" => Login(super::login::Opts),
    "publish" => Publish(super::publish::Opts),
    "pull" => Pull(super::pull::Opts),
    "verify" => Verify(super::verify::Opts),
    "wit" => Wit(super::wit::Opts),
}

impl Cli {
    /// Parses the command line. Building clap's whole tree (every command, its arguments
    /// and help) costs about 0.3 ms, as much as composing two small components, so the
    /// command named first is parsed on its own. Anything that does not parse that way
    /// (help, `--version`, a mistake, an unknown command) is parsed again with the full
    /// tree, which reports it exactly as before.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        if let Some(cli) = args
            .get(1)
            .and_then(|name| name.to_str())
            .and_then(|name| Cli::parse_fast(name, &args[1..]))
        {
            return Ok(cli);
        }
        <Cli as clap::Parser>::try_parse_from(args)
    }
}

#[cfg(test)]
mod tests {
    /// Each command parsed on its own (`Cli::parse_args`' fast path) is the full tree's
    /// command: the same arguments, spelled and required alike, and the same subcommands.
    #[test]
    fn every_command_parsed_alone_is_the_full_trees() {
        use clap::CommandFactory;
        fn shape(c: &clap::Command) -> Vec<String> {
            let mut out: Vec<String> = c
                .get_arguments()
                .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
                .map(|a| {
                    format!(
                        "{} --{:?} -{:?} required={} takes={:?} env={:?}",
                        a.get_id(),
                        a.get_long(),
                        a.get_short(),
                        a.is_required_set(),
                        a.get_num_args(),
                        a.get_env(),
                    )
                })
                .collect();
            for sub in c.get_subcommands() {
                out.push(format!("subcommand {}", sub.get_name()));
                out.extend(shape(sub).into_iter().map(|l| format!("  {l}")));
            }
            out.sort();
            out
        }
        let full = super::super::Cli::command();
        // A command parsed alone would not see arguments given to `wcomp` itself.
        let top: Vec<&str> = full
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .filter(|id| !matches!(*id, "help" | "version"))
            .collect();
        assert!(
            top.is_empty(),
            "`wcomp` itself takes {top:?}: parse_fast must learn them"
        );
        let names: Vec<&str> = full.get_subcommands().map(|c| c.get_name()).collect();
        assert!(names.len() >= 14, "{names:?}");
        for sub in full.get_subcommands() {
            let alone = super::fast_command(sub.get_name())
                .unwrap_or_else(|| panic!("`{}` has no fast path", sub.get_name()));
            assert_eq!(shape(&alone), shape(sub), "`{}`", sub.get_name());
        }
    }

    /// What the fast path cannot parse is left to the full tree, which reports it.
    #[test]
    fn help_versions_and_mistakes_go_to_the_full_tree() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        let parses = |a: &[&str]| super::super::Cli::parse_fast(a[0], &args(a)).is_some();
        assert!(parses(&[
            "compose", "a.wasm", "--plug", "b.wasm", "-o", "out.wasm"
        ]));
        assert!(parses(&["validate", "c.wasm"]));
        assert!(!parses(&["compose", "--help"]));
        assert!(!parses(&["compose", "--version"]));
        assert!(!parses(&["compose", "a.wasm", "--no-such-flag"]));
        assert!(!parses(&["composee", "a.wasm"]));
    }
}
