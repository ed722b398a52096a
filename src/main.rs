//! The `outpost` binary: parse the command line, call into the library, map outcomes to exit
//! codes (0 ok, 1 runtime error, 2 invalid configuration, 64 usage error). Nothing here panics
//! on bad input and nothing prints a backtrace.

use std::process::ExitCode;

use outpost::admin::signatures as sig;
use outpost::cli::{self, Command, Parsed};
use outpost::config::{self, ConfigError};
use outpost::{TARGET, VERSION};

const EXIT_RUNTIME: u8 = 1;
const EXIT_CONFIG: u8 = 2;
const EXIT_USAGE: u8 = 64;

fn init_logging(level: log::LevelFilter) {
    let mut b = simplelog::ConfigBuilder::new();
    b.set_target_level(log::LevelFilter::Off)
        .set_thread_level(log::LevelFilter::Off)
        .set_location_level(log::LevelFilter::Off);
    // journald stamps every line itself; elsewhere a UTC timestamp helps.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        b.set_time_level(log::LevelFilter::Off);
    } else {
        b.set_time_format_rfc3339();
    }
    // The logger passes everything; log's global max level filters, so a remote config can
    // change the level of a running agent (log::set_max_level).
    // Every record also goes to an internal log source when one runs (its events ship the
    // agent's own log with the gateway's other logs).
    let inner = simplelog::WriteLogger::new(log::LevelFilter::Trace, b.build(), std::io::stderr());
    let _ = log::set_boxed_logger(Box::new(Tee(inner)));
    log::set_max_level(level);
}

/// The stderr logger, and a copy of each record for the internal log source.
struct Tee(Box<simplelog::WriteLogger<std::io::Stderr>>);

impl log::Log for Tee {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        log::Log::enabled(&*self.0, m)
    }

    fn log(&self, record: &log::Record<'_>) {
        log::Log::log(&*self.0, record);
        outpost::sources::logs::internal::forward(record);
    }

    fn flush(&self) {
        log::Log::flush(&*self.0);
    }
}

/// glibc gives each thread that allocates its own malloc arena (up to 8 per core) and keeps
/// their free memory; the log pipeline's threads made that 1.5 MiB of RSS while shipping. Two
/// arenas cost no measurable CPU (docs/PERFORMANCE.md). musl has no arenas.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let command = match cli::parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Command(c)) => c,
        Ok(Parsed::Help(text) | Parsed::Version(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("outpost: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match command {
        Command::Help => {
            print!("{}", cli::help());
            ExitCode::SUCCESS
        }
        Command::Completions(shell) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(&cli::completions(shell));
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("outpost {VERSION} {TARGET}");
            ExitCode::SUCCESS
        }
        Command::SensorsProbe { config, board, bus } => {
            let cfg = match config::load(config.as_deref(), board.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(e),
            };
            if outpost::admin::sensors::probe(&cfg, bus.as_deref(), &mut std::io::stdout()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::Boards => {
            for (name, _) in config::board::BUILTIN {
                let mut problems = config::Problems::default();
                if let Some(b) = config::board::resolve(name, "board", &mut problems) {
                    println!(
                        "{:<18} {:<32} {}",
                        b.name,
                        b.target.as_deref().unwrap_or("-"),
                        b.description
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Command::StoreStats { config } => {
            let cfg = match config::load(config.as_deref(), None) {
                Ok(c) => c,
                Err(e) => return config_failure(e),
            };
            init_logging(log::LevelFilter::Warn);
            match outpost::admin::stats(&cfg) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("outpost: {e}");
                    ExitCode::from(EXIT_RUNTIME)
                }
            }
        }
        Command::StoreExport { config, sink, limit } => {
            let cfg = match config::load(config.as_deref(), None) {
                Ok(c) => c,
                Err(e) => return config_failure(e),
            };
            init_logging(log::LevelFilter::Warn);
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match outpost::admin::export(&cfg, &sink, limit, &mut out) {
                Ok(n) => {
                    eprintln!("outpost: exported {n} records for sink {sink:?}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("outpost: {e}");
                    ExitCode::from(EXIT_RUNTIME)
                }
            }
        }
        Command::SignaturesReplay {
            signatures,
            grouping,
            canonicalization,
            emit,
            all_levels,
            no_learn,
            config,
            input,
        } => {
            let cfg = match optional_config(config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let sc = match sig::settings(
                signatures.as_deref(),
                grouping.as_deref(),
                canonicalization.as_deref(),
                no_learn,
                cfg.as_ref(),
            ) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("outpost: {e}");
                    return ExitCode::from(EXIT_CONFIG);
                }
            };
            let emit = match emit {
                cli::EmitArg::Decisions => outpost::engine::replay::Emit::Decisions,
                cli::EmitArg::Events => outpost::engine::replay::Emit::Events,
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match sig::run_replay(sc, input.as_deref(), emit, all_levels, &mut out) {
                Ok(s) => {
                    use std::io::Write;
                    let _ = out.flush();
                    eprintln!(
                        "outpost: {} events, {} grouped, {} dropped as noise, {} decisions",
                        s.events, s.grouped, s.noise, s.decisions
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("outpost: {e}");
                    ExitCode::from(EXIT_RUNTIME)
                }
            }
        }
        Command::SignaturesClassify {
            signatures,
            operation,
            config,
            text,
        } => {
            let cfg = match optional_config(config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let engine = sig::settings(signatures.as_deref(), None, None, false, cfg.as_ref())
                .and_then(|s| outpost::engine::Engine::new(s, "classify", &[]));
            match engine {
                Ok(e) => match outpost::engine::replay::classify(&e, &text, operation.as_deref()) {
                    Some(v) => {
                        println!("{v:#}");
                        ExitCode::SUCCESS
                    }
                    None => {
                        println!("null");
                        ExitCode::from(EXIT_RUNTIME)
                    }
                },
                Err(e) => {
                    eprintln!("outpost: {e}");
                    ExitCode::from(EXIT_CONFIG)
                }
            }
        }
        Command::SignaturesCheck { files } => {
            let (ok, report) = sig::check(&files);
            print!("{report}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CONFIG)
            }
        }
        Command::Errors {
            config,
            since,
            limit,
            json,
        } => {
            let cfg = match config::load(config.as_deref(), None) {
                Ok(c) => c,
                Err(e) => return config_failure(e),
            };
            match sig::errors(&cfg, &since, limit) {
                Ok(v) if json => {
                    println!("{v:#}");
                    ExitCode::SUCCESS
                }
                Ok(v) => {
                    print!("{}", outpost::engine::view::text(&v));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("outpost: {e}");
                    ExitCode::from(EXIT_RUNTIME)
                }
            }
        }
        Command::CheckConfig {
            config,
            board,
            remote,
        } => match config::load(config.as_deref(), board.as_deref()) {
            Ok(cfg) if remote.is_some() => {
                let path = remote.as_deref().expect("guarded");
                let bytes = match std::fs::read(path) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("outpost: cannot read {}: {e}", path.display());
                        return ExitCode::from(EXIT_CONFIG);
                    }
                };
                let checked = config::remote::read_version(&bytes)
                    .and_then(|(v, doc)| config::remote::build(v, doc, &cfg.base));
                match checked {
                    Ok((remote_cfg, _)) => {
                        println!(
                            "{}: {} is valid over {}",
                            path.display(),
                            remote_cfg.origin,
                            cfg.origin
                        );
                        println!(
                            "  sampling:     every {}",
                            config::units::format_duration(remote_cfg.sample.interval)
                        );
                        ExitCode::SUCCESS
                    }
                    Err(r) => {
                        let errors = config::remote::problem_strings(&r.problems);
                        eprintln!(
                            "outpost: {}: remote config{} would be rejected:",
                            path.display(),
                            r.version.map(|v| format!(" version {v}")).unwrap_or_default()
                        );
                        for e in errors {
                            eprintln!("  - {e}");
                        }
                        ExitCode::from(EXIT_CONFIG)
                    }
                }
            }
            Ok(cfg) => {
                println!("{}: configuration is valid", cfg.origin);
                println!("  gateway id:   {}", cfg.agent.id);
                println!("  data dir:     {}", cfg.agent.data_dir.display());
                if let Some(b) = &cfg.agent.board {
                    println!(
                        "  board:        {} ({}, target {})",
                        b.name,
                        b.source,
                        b.target.as_deref().unwrap_or("any")
                    );
                }
                println!(
                    "  sampling:     every {}",
                    config::units::format_duration(cfg.sample.interval)
                );
                if cfg.metrics.enabled {
                    println!("  metrics:      http://{}/metrics", cfg.metrics.listen);
                }
                for s in &cfg.logs.sources {
                    println!(
                        "  log source:   {} ({}, format {})",
                        s.name,
                        s.kind.name(),
                        s.format.name()
                    );
                }
                for s in &cfg.sensors {
                    println!(
                        "  sensor:       {} ({}, every {}{})",
                        s.name,
                        s.place(),
                        config::units::format_duration(s.interval),
                        if s.enabled { "" } else { ", disabled" }
                    );
                }
                if let Some(l) = &cfg.logstash {
                    println!("  logstash:     {}", l.target_name());
                }
                if let Some(s) = &cfg.signatures {
                    println!(
                        "  signatures:   {} ({} signatures in {} categories, canonicalization {}{})",
                        s.catalog.origin,
                        s.catalog.signatures.len(),
                        s.catalog.categories.len(),
                        s.canonicalization.as_str(),
                        if s.shadow { ", shadow mode" } else { "" }
                    );
                }
                if let Some(a) = &cfg.alerts {
                    let shadow = cfg.signatures.as_ref().is_some_and(|s| s.shadow);
                    if let Some(am) = &a.alertmanager {
                        let urls: Vec<&str> = am.endpoints.iter().map(|e| e.url.as_str()).collect();
                        println!("  alerts:       alertmanager {}", urls.join(", "));
                    }
                    for c in [&a.slack, &a.telegram].into_iter().flatten() {
                        println!("  alerts:       {}", c.target);
                    }
                    if let Some(e) = &a.exec {
                        println!("  alerts:       exec {}", e.command.join(" "));
                    }
                    if shadow {
                        println!("  alerts:       SHADOW MODE: nothing is sent");
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => config_failure(e),
        },
        Command::Run { config, board } => {
            let cfg = match config::load(config.as_deref(), board.as_deref()) {
                Ok(c) => c,
                Err(e) => return config_failure(e),
            };
            init_logging(cfg.agent.log_level);
            match outpost::runtime::run(cfg) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    eprintln!("outpost: {e}");
                    ExitCode::from(EXIT_RUNTIME)
                }
            }
        }
    }
}

/// The config file, when one is given (tools that can run without one).
fn optional_config(path: Option<&std::path::Path>) -> Result<Option<config::Config>, ExitCode> {
    match path {
        None => Ok(None),
        Some(p) => config::load(Some(p), None).map(Some).map_err(config_failure),
    }
}

fn config_failure(e: ConfigError) -> ExitCode {
    eprintln!("outpost: invalid configuration: {e}");
    ExitCode::from(EXIT_CONFIG)
}
