//! The command line as users and systemd see it: exit codes, messages, the embedded default,
//! and clean shutdown.

mod common;

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

fn outpost(args: &[&str]) -> Output {
    Command::new(outpost_bin())
        .args(args)
        .output()
        .expect("run outpost")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn version_and_help() {
    let out = outpost(&["--version"]);
    assert!(out.status.success());
    let v = text(&out.stdout);
    assert!(
        v.starts_with(&format!("outpost {} ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(v.contains("-linux-"), "target triple missing: {v}");
    let out = outpost(&["--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("check-config"));
    let out = outpost(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("unknown command"));
}

/// Issue 14: help per command and shell completions come from the parser's declaration.
#[test]
fn command_help_and_completions() {
    let out = outpost(&["store", "export", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(
        help.contains("--sink <NAME>") && help.contains("--limit <N>"),
        "{help}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = outpost(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(
            script.contains("check-config") && script.contains("remote"),
            "{shell}"
        );
    }
    let out = outpost(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(64));
    let out = outpost(&["chek-config"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("did you mean \"check-config\""));
}

#[test]
fn example_config_and_boards_validate() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/outpost.toml");
    let out = outpost(&["check-config", "--config", example]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = outpost(&["boards"]);
    let listed = text(&out.stdout);
    for b in [
        "generic",
        "rpi4",
        "rpi4-env",
        "rpi3",
        "rpi-zero2",
        "beaglebone-black",
        "visionfive2",
    ] {
        assert!(listed.contains(b), "{b} not listed");
        let out = outpost(&["check-config", "--board", b]);
        assert!(out.status.success(), "--board {b}: {}", text(&out.stderr));
    }
    let out = outpost(&["check-config", "--board", "rpi9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--board: unknown board \"rpi9\""));
}

#[test]
fn invalid_config_reports_every_problem_and_exits_2() {
    let dir = TempDir::new("badcfg");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[agent]\nid = \"gw 1\"\nlog_level = \"chatty\"\n[sample]\ninterval = \"ten seconds\"\n\
         collectors = [\"cpu\", \"gpu\"]\n[sample.filesystem]\nfs_types_exclude = \"(\"\n\
         [metrics]\nlisten = \"localhost\"\nmax_connections = 0\n",
    )
    .unwrap();
    for cmd in ["check-config", "run"] {
        let out = outpost(&[cmd, "--config", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = text(&out.stderr);
        for key in [
            "agent.id",
            "agent.log_level",
            "sample.interval",
            "sample.collectors[1]",
            "sample.filesystem.fs_types_exclude",
            "metrics.listen",
            "metrics.max_connections",
        ] {
            assert!(
                err.contains(&format!("- {key}: ")),
                "{cmd}: {key} not reported in:\n{err}"
            );
        }
        assert!(err.contains("7 problems"), "{err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    }
    let out = outpost(&["check-config", "--config", "/nonexistent/outpost.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read config file /nonexistent/outpost.toml"));
}

/// Issue 14: a misspelt key used to hide every value problem of the same file.
#[test]
fn unknown_keys_are_reported_with_the_value_problems() {
    let dir = TempDir::new("typo");
    let path = dir.path().join("typo.toml");
    std::fs::write(
        &path,
        "[sample]\nintervall = \"5s\"\nfilesystem = { statfs_timeout = \"soon\" }\n\
         [metrics]\nlisten = \"127.0.0.1:99999\"\n",
    )
    .unwrap();
    let out = outpost(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("3 problems"), "{err}");
    assert!(
        err.contains("- sample.intervall: unknown field `intervall`; did you mean `interval`?"),
        "{err}"
    );
    assert!(err.contains("- sample.filesystem.statfs_timeout: "), "{err}");
    assert!(err.contains("- metrics.listen: "), "{err}");
}

#[test]
fn push_sections_report_their_problems_with_key_paths() {
    let dir = TempDir::new("badpush");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[remote_write]\nurl = \"ftp://prom\"\nusername = \"gw\"\nheaders = { Content-Type = \"text/plain\" }\n\
         external_labels = { \"bad-name\" = \"x\" }\nmax_backlog_age = \"5s\"\nmax_samples_per_request = 0\n\
         [pushgateway]\nurl = \"https://pg.example:9091\"\nbearer_token_file = \"/nonexistent/token\"\n\
         grouping = { job = \"x\" }\n",
    )
    .unwrap();
    let out = outpost(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for key in [
        "remote_write.url",
        "remote_write.password_file",
        "remote_write.headers.Content-Type",
        "remote_write.external_labels.bad-name",
        "remote_write.max_backlog_age",
        "remote_write.max_samples_per_request",
        "pushgateway.bearer_token_file",
        "pushgateway.grouping.job",
    ] {
        assert!(
            err.contains(&format!("- {key}: ")),
            "{key} not reported in:\n{err}"
        );
    }
}

#[test]
fn scrape_jobs_report_their_problems_with_key_paths() {
    let dir = TempDir::new("badscrape");
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"[[scrape]]
job = "a"
targets = ["127.0.0.1", "http://x:1/metrics", "127.0.0.1:9100", "127.0.0.1:9100"]
metrics_path = "metrics"
interval = "5s"
timeout = "10s"
labels = { instance = "x" }
[[scrape.metric_relabel_configs]]
action = "hashmod"
[[scrape.metric_relabel_configs]]
source_labels = ["__name__"]
regex = "go_(.*"
action = "drop"

[[scrape]]
job = "a"
targets = []
scheme = "ftp"
sample_limit = 0
"#,
    )
    .unwrap();
    let out = outpost(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for key in [
        "scrape[0].targets[0]",
        "scrape[0].targets[1]",
        "scrape[0].targets[3]",
        "scrape[0].metrics_path",
        "scrape[0].timeout",
        "scrape[0].labels.instance",
        "scrape[0].metric_relabel_configs[0].action",
        "scrape[0].metric_relabel_configs[1].regex",
        "scrape[1].job",
        "scrape[1].targets",
        "scrape[1].scheme",
        "scrape[1].sample_limit",
    ] {
        assert!(
            err.contains(&format!("- {key}: ")),
            "{key} not reported in:\n{err}"
        );
    }
    // A typo is refused by name, and [[scrape]] cannot come over MQTT.
    std::fs::write(&path, "[[scrape]]\njob = \"a\"\ntarget = [\"127.0.0.1:1\"]\n").unwrap();
    let out = outpost(&["check-config", "--config", path.to_str().unwrap()]);
    assert!(
        text(&out.stderr).contains("unknown field `target`"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&path, "").unwrap();
    let remote = dir.path().join("remote.json");
    std::fs::write(
        &remote,
        r#"{"version": 1, "scrape": [{"job": "x", "targets": ["127.0.0.1:1"]}]}"#,
    )
    .unwrap();
    let out = outpost(&[
        "check-config",
        "--config",
        path.to_str().unwrap(),
        "--remote",
        remote.to_str().unwrap(),
    ]);
    assert!(
        text(&out.stderr).contains("- scrape: local only"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn embedded_default_runs_without_a_file_and_stops_on_sigint() {
    let dir = TempDir::new("default");
    let started = Instant::now();
    let mut agent = Proc::spawn(
        "outpost",
        Command::new(outpost_bin())
            .arg("run")
            .current_dir(dir.path())
            .env_remove("STATE_DIRECTORY")
            .stderr(std::process::Stdio::piped()),
    );
    let r = wait_for(
        "default /metrics on 127.0.0.1:9110",
        Duration::from_secs(15),
        || {
            http_get("127.0.0.1:9110", "/metrics")
                .ok()
                .filter(|r| r.status == 200)
        },
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(r.body.contains("node_memory_MemAvailable_bytes"));
    assert!(
        dir.path().join("outpost-data/outpost.lock").exists(),
        "data dir not created"
    );
    agent.signal("INT");
    let t = Instant::now();
    assert_eq!(
        agent.wait_exit(Duration::from_secs(2)),
        Some(Some(0)),
        "exit within 2 s"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    let mut log = String::new();
    use std::io::Read;
    agent
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("storing data under"), "{log}");
    assert!(
        log.contains("serving metrics on http://127.0.0.1:9110/metrics"),
        "{log}"
    );
}

#[test]
fn state_directory_is_the_default_data_dir() {
    let dir = TempDir::new("statedir");
    let state = dir.path().join("state");
    let port = free_port();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n")).unwrap();
    let _agent = Proc::spawn(
        "outpost",
        Command::new(outpost_bin())
            .args(["run", "--config"])
            .arg(&cfg)
            .current_dir(dir.path())
            .env("STATE_DIRECTORY", &state),
    );
    wait_for("data dir in STATE_DIRECTORY", Duration::from_secs(10), || {
        state.join("outpost.lock").exists().then_some(())
    });
    assert!(!dir.path().join("outpost-data").exists());
}

#[test]
fn runtime_failures_exit_1_with_a_clear_message() {
    // The metrics port is taken.
    let dir = TempDir::new("busy");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cfg = write_config(dir.path(), port, "");
    let out = outpost(&["run", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("cannot serve metrics on 127.0.0.1:{port}")),
        "{err}"
    );
    drop(taken);

    // The data directory is held by another agent.
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let _first = start_outpost(&cfg, port);
    let cfg2 = dir.path().join("second.toml");
    std::fs::write(
        &cfg2,
        format!(
            "[agent]\ndata_dir = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:{}\"\n",
            dir.path().join("data").display(),
            free_port()
        ),
    )
    .unwrap();
    let out = outpost(&["run", "--config", cfg2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is in use by another outpost process"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_config_checks_a_remote_document_against_the_file() {
    let dir = TempDir::new("cli-remote");
    let cfg = dir.path().join("outpost.toml");
    std::fs::write(
        &cfg,
        "[agent]\nid = \"gw1\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n",
    )
    .unwrap();
    let doc = dir.path().join("remote.json");
    let cfg_s = cfg.to_str().unwrap();
    let doc_s = doc.to_str().unwrap();
    std::fs::write(&doc, r#"{"version": 4, "sample": {"interval": "30s"}}"#).unwrap();
    let out = outpost(&["check-config", "--config", cfg_s, "--remote", doc_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("remote config version 4 is valid"),
        "{}",
        text(&out.stdout)
    );
    std::fs::write(
        &doc,
        r#"{"version": 5, "agent": {"id": "other"}, "sample": {"interval": "soon"}}"#,
    )
    .unwrap();
    let out = outpost(&["check-config", "--config", cfg_s, "--remote", doc_s]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("version 5 would be rejected"), "{err}");
    assert!(err.contains("- agent.id: local only"), "{err}");
    assert!(err.contains("- sample.interval: "), "{err}");
}
