//! Command-line parsing, by hand: four subcommands and three flags do not justify a parser
//! crate's size. Errors name the offending argument and point to `--help`.

use std::fmt;
use std::path::PathBuf;

pub const USAGE: &str = "\
outpost — edge agent for IoT gateways

Usage:
  outpost run [--config FILE] [--board NAME|FILE]
  outpost check-config [--config FILE] [--board NAME|FILE] [--remote DOC.json]
  outpost store stats [--config FILE]
  outpost store export [--config FILE] [--sink NAME] [--limit N]
  outpost boards
  outpost --version
  outpost --help

Commands:
  run           Run the agent. Without --config it runs on the embedded default:
                host metrics every 10s, data under $STATE_DIRECTORY or ./outpost-data,
                metrics on http://127.0.0.1:9110/metrics.
  check-config  Validate the configuration, print every problem with its key path;
                exit status 2 when it is invalid. With --remote, also check a remote
                config document (JSON, as published on <prefix>/<id>/config) laid
                over the file.
  store stats   Records, bytes and backlogs of the store (of a stopped agent, or of a
                running one through its /metrics endpoint).
  store export  Print stored records as JSON lines and acknowledge them for sink NAME
                (default: export); only while the agent is stopped.
  boards        List the built-in board profiles.

Options:
  -c, --config FILE   Configuration file (TOML). Default: the embedded default.
  -b, --board B       Board profile: a built-in name or a profile file; overrides [agent] board.
  -V, --version       Print version and target triple.
  -h, --help          Print this help.

Exit status: 0 ok, 1 runtime error, 2 invalid configuration, 64 usage error.
";

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
    Boards,
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

pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, UsageError> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Err(UsageError("no command given".into()));
    };
    let sub = match first.as_str() {
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "-V" | "--version" | "version" => return Ok(Command::Version),
        "boards" => "boards",
        "run" => "run",
        "check-config" => "check-config",
        "store" => match args.next().as_deref() {
            Some("stats") => "store stats",
            Some("export") => "store export",
            Some(other) => {
                return Err(UsageError(format!(
                    "unknown store command {other:?}; use stats or export"
                )))
            }
            None => return Err(UsageError("store needs a command: stats or export".into())),
        },
        other => return Err(UsageError(format!("unknown command {other:?}"))),
    };
    let mut config = None;
    let mut board = None;
    let mut sink = None;
    let mut limit = None;
    let mut remote = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, UsageError> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(UsageError(format!("{name} needs a value"))),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-c" | "--config" if sub != "boards" => {
                if config.replace(PathBuf::from(value("--config")?)).is_some() {
                    return Err(UsageError("--config given twice".into()));
                }
            }
            "--remote" if sub == "check-config" => {
                remote = Some(PathBuf::from(value("--remote")?));
            }
            "--sink" if sub == "store export" => {
                let v = value("--sink")?;
                if v.is_empty()
                    || !v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(UsageError(format!(
                        "--sink {v:?}: use letters, digits, '-' and '_'"
                    )));
                }
                sink = Some(v);
            }
            "--limit" if sub == "store export" => {
                let v = value("--limit")?;
                limit = Some(
                    v.parse()
                        .map_err(|_| UsageError(format!("--limit {v:?} is not a number")))?,
                );
            }
            "-b" | "--board" if sub == "run" || sub == "check-config" => {
                if board.replace(value("--board")?).is_some() {
                    return Err(UsageError("--board given twice".into()));
                }
            }
            other => return Err(UsageError(format!("unexpected argument {other:?} for {sub}"))),
        }
    }
    Ok(match sub {
        "run" => Command::Run { config, board },
        "check-config" => Command::CheckConfig {
            config,
            board,
            remote,
        },
        "store stats" => Command::StoreStats { config },
        "store export" => Command::StoreExport {
            config,
            sink: sink.unwrap_or_else(|| "export".to_string()),
            limit,
        },
        _ => Command::Boards,
    })
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
