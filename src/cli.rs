//! The command line, declared once with clap (derive): `--help` for every command, usage
//! errors and shell completions (`outpost completions bash|zsh|fish`) come from the same
//! declaration, so a new subcommand is a variant here and a branch in `main.rs`.
//!
//! [`parse`] turns clap's answer into a [`Command`]; clap's usage errors become a
//! [`UsageError`] that names the offending argument (exit status 64 in `main.rs`, as
//! documented; clap's own would be 2, which outpost keeps for invalid configurations).

use std::fmt;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand};

/// Printed by `--version`: the version and the target triple.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " ", env!("OUTPOST_TARGET"));

#[derive(Parser, Debug)]
#[command(
    name = "outpost",
    version = VERSION,
    about = "outpost — edge agent for IoT gateways",
    after_help = "Exit status: 0 ok, 1 runtime error, 2 invalid configuration, 64 usage error.",
    subcommand_required = true,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Subcommand, Debug)]
enum Sub {
    /// Run the agent.
    ///
    /// Without --config it runs on the embedded default: host metrics every 10s, data under
    /// $STATE_DIRECTORY or ./outpost-data, metrics on http://127.0.0.1:9110/metrics.
    Run {
        /// Configuration file (TOML). Default: the embedded default.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Board profile: a built-in name or a profile file; overrides [agent] board.
        #[arg(short, long, value_name = "NAME|FILE")]
        board: Option<String>,
    },
    /// Validate the configuration; exit status 2 when it is invalid.
    ///
    /// Prints every problem with its key path. With --remote, also checks a remote config
    /// document (JSON, as published on <prefix>/<id>/config) laid over the file.
    CheckConfig {
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(short, long, value_name = "NAME|FILE")]
        board: Option<String>,
        /// A remote config document to check against the file.
        #[arg(long, value_name = "DOC.json")]
        remote: Option<PathBuf>,
    },
    /// The store of a stopped agent (or of a running one through its /metrics endpoint).
    Store {
        #[command(subcommand)]
        command: StoreSub,
    },
    /// The signature engine's tools: replay a log through a catalog, classify one message,
    /// check catalog files.
    Signatures {
        #[command(subcommand)]
        command: SigSub,
    },
    /// Top error signatures of the running agent (or, stopped, of its data directory).
    Errors {
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The time window, e.g. 30m, 2h.
        #[arg(long, value_name = "DURATION", default_value = "30m")]
        since: String,
        /// At most this many groups.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Print the JSON view instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Device sensors: find them on their buses and read each once (at installation).
    Sensors {
        #[command(subcommand)]
        command: SensorsSub,
    },
    /// List the built-in board profiles.
    Boards,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum SensorsSub {
    /// Scan the I2C buses for responding addresses and read each configured sensor once,
    /// saying what is wrong in words; exit status 0 only when every sensor answered.
    Probe {
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// A board profile: a built-in name or a file (its sensors are probed).
        #[arg(long, value_name = "NAME|FILE")]
        board: Option<String>,
        /// Only this bus (i2c-1, spidev0.0, gpiochip0, sim, w1, sysfs).
        #[arg(long, value_name = "BUS")]
        bus: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum StoreSub {
    /// Records, bytes and backlogs of the store.
    Stats {
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print stored records as JSON lines and acknowledge them for sink NAME.
    ///
    /// Only while the agent is stopped.
    Export {
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The cursor to export for (letters, digits, '-' and '_').
        #[arg(long, value_name = "NAME", default_value = "export", value_parser = sink_name)]
        sink: String,
        /// At most this many records.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
}

/// What `signatures replay` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitArg {
    Decisions,
    Events,
}

#[derive(Subcommand, Debug)]
enum SigSub {
    /// Run the engine over a log (plain or JSON lines) with the events' own time.
    ///
    /// Prints one JSON line per decision (firing, reminder, resolved), or per input event
    /// with --emit events. Exit status 2 on an invalid catalog.
    Replay {
        /// The catalog (YAML or JSON). Default: the config's [signatures].
        #[arg(long, value_name = "FILE")]
        signatures: Option<PathBuf>,
        /// The grouping file (window, counts, cooldown, immediate categories).
        #[arg(long, value_name = "FILE")]
        grouping: Option<PathBuf>,
        /// spec or v1 (default v1).
        #[arg(long, value_name = "V")]
        canonicalization: Option<String>,
        #[arg(long, value_enum, default_value = "decisions")]
        emit: EmitArg,
        /// Fingerprint events of every level, not only errors.
        #[arg(long)]
        all_levels: bool,
        /// Do not learn variable words (as [signatures] learn = false): fingerprints from the
        /// masks alone.
        #[arg(long)]
        no_learn: bool,
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The log to read; '-' or nothing for stdin.
        #[arg(value_name = "LOGFILE")]
        input: Option<PathBuf>,
    },
    /// Classify one message: category, signature, summary, severity, policy (or nothing).
    Classify {
        #[arg(long, value_name = "FILE")]
        signatures: Option<PathBuf>,
        #[arg(long, value_name = "OP")]
        operation: Option<String>,
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(value_name = "TEXT")]
        text: String,
    },
    /// Validate catalog and grouping files (for CI pipelines); exit status 2 if any is invalid.
    Check {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
}

fn sink_name(v: &str) -> Result<String, String> {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(v.to_string())
    } else {
        Err("use letters, digits, '-' and '_'".into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run {
        config: Option<PathBuf>,
        board: Option<String>,
    },
    CheckConfig {
        config: Option<PathBuf>,
        board: Option<String>,
        /// A remote config document (JSON) to check against the file.
        remote: Option<PathBuf>,
    },
    StoreStats {
        config: Option<PathBuf>,
    },
    StoreExport {
        config: Option<PathBuf>,
        sink: String,
        limit: Option<u64>,
    },
    SignaturesReplay {
        signatures: Option<PathBuf>,
        grouping: Option<PathBuf>,
        canonicalization: Option<String>,
        emit: EmitArg,
        all_levels: bool,
        no_learn: bool,
        config: Option<PathBuf>,
        input: Option<PathBuf>,
    },
    SignaturesClassify {
        signatures: Option<PathBuf>,
        operation: Option<String>,
        config: Option<PathBuf>,
        text: String,
    },
    SignaturesCheck {
        files: Vec<PathBuf>,
    },
    Errors {
        config: Option<PathBuf>,
        since: String,
        limit: usize,
        json: bool,
    },
    SensorsProbe {
        config: Option<PathBuf>,
        board: Option<String>,
        bus: Option<String>,
    },
    Boards,
    /// A completion script for this shell.
    Completions(clap_complete::Shell),
    Version,
    Help,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (see outpost --help)", self.0)
    }
}

impl std::error::Error for UsageError {}

/// What the command line asks for, or the text clap rendered for `--help`/`--version`
/// (printed, exit 0).
#[derive(Debug)]
pub enum Parsed {
    Command(Command),
    Help(String),
    Version(String),
}

/// Parses the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, UsageError> {
    match parse_args(args)? {
        Parsed::Command(c) => Ok(c),
        Parsed::Version(_) => Ok(Command::Version),
        Parsed::Help(_) => Ok(Command::Help),
    }
}

/// [`parse`], keeping clap's rendered help (of the command asked about) for `main` to print.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, UsageError> {
    let argv = std::iter::once("outpost".to_string()).chain(args);
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp => Ok(Parsed::Help(e.render().to_string())),
                ErrorKind::DisplayVersion => Ok(Parsed::Version(e.render().to_string())),
                _ => Err(usage_error(&e)),
            }
        }
    };
    Ok(Parsed::Command(match cli.command {
        Sub::Run { config, board } => Command::Run { config, board },
        Sub::CheckConfig {
            config,
            board,
            remote,
        } => Command::CheckConfig {
            config,
            board,
            remote,
        },
        Sub::Store {
            command: StoreSub::Stats { config },
        } => Command::StoreStats { config },
        Sub::Store {
            command: StoreSub::Export { config, sink, limit },
        } => Command::StoreExport { config, sink, limit },
        Sub::Signatures { command } => match command {
            SigSub::Replay {
                signatures,
                grouping,
                canonicalization,
                emit,
                all_levels,
                no_learn,
                config,
                input,
            } => Command::SignaturesReplay {
                signatures,
                grouping,
                canonicalization,
                emit,
                all_levels,
                no_learn,
                config,
                input,
            },
            SigSub::Classify {
                signatures,
                operation,
                config,
                text,
            } => Command::SignaturesClassify {
                signatures,
                operation,
                config,
                text,
            },
            SigSub::Check { files } => Command::SignaturesCheck { files },
        },
        Sub::Errors {
            config,
            since,
            limit,
            json,
        } => Command::Errors {
            config,
            since,
            limit,
            json,
        },
        Sub::Sensors {
            command: SensorsSub::Probe { config, board, bus },
        } => Command::SensorsProbe { config, board, bus },
        Sub::Boards => Command::Boards,
        Sub::Completions { shell } => Command::Completions(shell),
    }))
}

/// The top-level help text.
pub fn help() -> String {
    Cli::command().render_help().to_string()
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "outpost", &mut out);
    out
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// One line naming the argument, from clap's error.
fn usage_error(e: &clap::Error) -> UsageError {
    // "--config <FILE>" -> "--config"
    let arg = context(e, ContextKind::InvalidArg)
        .map(|a| a.split([' ', '=']).next().unwrap_or_default().to_string());
    let message = match (e.kind(), arg) {
        (ErrorKind::InvalidSubcommand, _) => {
            let name = context(e, ContextKind::InvalidSubcommand).unwrap_or_default();
            let hint = context(e, ContextKind::SuggestedSubcommand)
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_default();
            format!("unknown command {name:?}{hint}")
        }
        (ErrorKind::UnknownArgument, Some(arg)) => format!("unexpected argument {arg:?}"),
        (ErrorKind::ArgumentConflict, Some(arg))
            if context(e, ContextKind::PriorArg).is_none_or(|p| p.starts_with(&arg)) =>
        {
            format!("{arg} given twice")
        }
        (ErrorKind::InvalidValue, Some(arg))
            if context(e, ContextKind::InvalidValue).is_none_or(|v| v.is_empty()) =>
        {
            format!("{arg} needs a value")
        }
        (ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand, _) => {
            "a command is needed".to_string()
        }
        _ => {
            // clap's own sentence, without its "error: " prefix and usage block.
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or_default();
            line.strip_prefix("error: ").unwrap_or(line).to_string()
        }
    };
    UsageError(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_commands_and_flags() {
        assert_eq!(
            p(&["run"]),
            Ok(Command::Run {
                config: None,
                board: None
            })
        );
        assert_eq!(
            p(&["run", "--config", "a.toml", "-b", "rpi4"]),
            Ok(Command::Run {
                config: Some("a.toml".into()),
                board: Some("rpi4".into())
            })
        );
        assert_eq!(
            p(&["check-config", "--config=x.toml"]),
            Ok(Command::CheckConfig {
                config: Some("x.toml".into()),
                board: None,
                remote: None
            })
        );
        assert_eq!(
            p(&["check-config", "--remote", "r.json"]),
            Ok(Command::CheckConfig {
                config: None,
                board: None,
                remote: Some("r.json".into())
            })
        );
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(p(&["run", "--help"]), Ok(Command::Help));
        assert_eq!(p(&["boards"]), Ok(Command::Boards));
        assert_eq!(
            p(&["store", "stats", "-c", "x.toml"]),
            Ok(Command::StoreStats {
                config: Some("x.toml".into())
            })
        );
        assert_eq!(
            p(&["store", "export", "--sink", "backup", "--limit", "10"]),
            Ok(Command::StoreExport {
                config: None,
                sink: "backup".into(),
                limit: Some(10)
            })
        );
    }

    #[test]
    fn usage_errors_name_the_argument() {
        assert!(p(&[]).is_err());
        assert!(p(&["fly"]).unwrap_err().0.contains("\"fly\""));
        assert!(p(&["run", "--config"])
            .unwrap_err()
            .0
            .contains("--config needs a value"));
        assert!(p(&["run", "--config="]).is_err());
        assert!(p(&["run", "-c", "a", "-c", "b"]).unwrap_err().0.contains("twice"));
        assert!(p(&["run", "extra"]).unwrap_err().0.contains("\"extra\""));
        assert!(p(&["boards", "--config", "x"]).is_err());
        assert!(p(&["store"]).is_err());
        assert!(p(&["store", "vacuum"]).is_err());
        assert!(p(&["store", "stats", "--board", "rpi4"]).is_err());
        assert!(p(&["store", "export", "--limit", "many"]).is_err());
        assert!(p(&["store", "export", "--sink", "a/b"]).is_err());
    }
}
