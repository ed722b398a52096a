//! The signature engine end to end: the replay and classify tools on the spec's example,
//! fingerprints checked against an independent computation (Python's hashlib and re), the
//! running agent (error fields on stored events, decisions in the alerts class, /errors,
//! `outpost errors`), state across `kill -9`, redaction in every output, bad catalogs, and
//! grouping accuracy on LogHub.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const CATALOG: &str = r#"noise_allowlist:
  - "Broken pipe|context canceled|499"

categories:
  critical:
    default_policy: escalate
    signatures:
      - id: OOM
        pattern: "(Out of memory|OOMKilled)"
        severity: high
        summary: "Out-of-memory condition"
  network_db:
    default_policy: retry
    signatures:
      - id: NET_RESET
        pattern: "(socket hang up|ECONNRESET|ETIMEDOUT|EAI_AGAIN)"
        severity: medium
        summary: "Transient network issue"
  app_runtime:
    default_policy: notify
    signatures:
      - id: TYPE_ERROR
        pattern: "(TypeError:|ReferenceError:|UnhandledPromiseRejection)"
        severity: medium
        summary: "Application runtime error"
  process:
    default_policy: notify
    signatures:
      - id: EXIT_NONZERO
        pattern: "Exited with code (?!0)\\d+"
        severity: medium
        summary: "Process exited with an error"
"#;

const GROUPING: &str =
    "window_minutes: 5\nmin_count_default: 3\ncooldown_minutes: 10\nimmediate_categories: [\"critical\"]\n";

fn catalog_files(dir: &Path) -> (PathBuf, PathBuf) {
    let c = dir.join("error_signatures.yml");
    let g = dir.join("alerts.yml");
    std::fs::write(&c, CATALOG).unwrap();
    std::fs::write(&g, GROUPING).unwrap();
    (c, g)
}

/// Runs `outpost` with `args`, `input` on stdin; (status, stdout, stderr).
fn run(args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = Command::new(outpost_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run outpost");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn replay_decides_the_specs_example() {
    let dir = TempDir::new("engine-spec");
    let (c, g) = catalog_files(dir.path());
    let ts = |m: u32| format!("2026-12-01T10:{m:02}:00Z");
    let mut input = String::new();
    for m in 0..4 {
        input.push_str(&format!(
            "{{\"ts\": \"{}\", \"level\": \"error\", \"message\": \"socket hang up during query\", \"operation\": \"db.query\"}}\n",
            ts(m)
        ));
    }
    input.push_str(&format!("{} ERROR pod OOMKilled\n", ts(4)));
    input.push_str(&format!("{} Exited with code 0\n", ts(5)));
    input.push_str(&format!("{} Exited with code 137\n", ts(6)));
    let args = |emit: &'static str| {
        vec![
            "signatures".to_string(),
            "replay".into(),
            "--signatures".into(),
            c.display().to_string(),
            "--grouping".into(),
            g.display().to_string(),
            "--emit".into(),
            emit.into(),
        ]
    };
    let a: Vec<String> = args("decisions");
    let (code, out, err) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), &input);
    assert_eq!(code, 0, "{err}");
    let d = json_lines(&out);
    assert_eq!(d.len(), 2, "one firing for NET_RESET, one for OOM:\n{out}");
    assert_eq!(d[0]["kind"], "firing");
    assert_eq!(d[0]["category"], "network_db");
    assert_eq!(d[0]["signature"], "NET_RESET");
    assert_eq!(d[0]["policy"], "retry");
    assert_eq!(d[0]["count"], 3);
    assert_eq!(d[0]["first_seen"], "2026-12-01T10:00:00.000Z");
    assert_eq!(d[1]["category"], "critical");
    assert_eq!(d[1]["policy"], "escalate");
    assert_eq!(d[1]["count"], 1);

    let a: Vec<String> = args("events");
    let (code, out, _) = run(&a.iter().map(String::as_str).collect::<Vec<_>>(), &input);
    assert_eq!(code, 0);
    let e = json_lines(&out);
    assert_eq!(e.len(), 7, "one line per input event, in order");
    assert_eq!(e[0]["operation"], "db.query");
    assert_eq!(e[5]["signature"], serde_json::Value::Null, "Exited with code 0");
    assert_eq!(
        e[5]["fingerprint"],
        serde_json::Value::Null,
        "no level: not grouped"
    );
    assert_eq!(e[6]["signature"], "EXIT_NONZERO");

    let (code, out, _) = run(
        &[
            "signatures",
            "classify",
            "--signatures",
            &c.display().to_string(),
            "--operation",
            "db.query",
            "read ECONNRESET",
        ],
        "",
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["signature"], "NET_RESET");
    assert_eq!(v["severity"], "medium");
    assert_eq!(v["operation"], "db.query");
    let (code, out, _) = run(
        &[
            "signatures",
            "classify",
            "--signatures",
            &c.display().to_string(),
            "all good",
        ],
        "",
    );
    assert_eq!((code, out.trim()), (1, "null"));
}

/// The expected canonical forms and fingerprints, computed by Python with the spec's
/// regexes and hashlib — not by outpost's code.
#[test]
fn fingerprints_match_an_independent_computation() {
    let python = require(&["python3"], "python3");
    let dir = TempDir::new("engine-fp");
    let (c, _) = catalog_files(dir.path());
    let lines = [
        "disk 3 failed at 0x1F4 after 12 tries",
        "worker3 died: code 0xdeadBEEF",
        "Ünïcode 42 ÄB",
        "ratio 1.5 of 20",
        "read ECONNRESET from 10.0.0.7",
        "container OOMKilled",
        "Exited with code 137",
        "Traceback (most recent call last):",
        "x509: certificate has expired or is not yet valid",
        "accept: Too many open files",
        "write: No space left on device",
        "gunicorn[7]: [CRITICAL] WORKER TIMEOUT worker timeout (pid:9)",
        &"Long line 7 ".repeat(40),
    ];
    let input: String = lines
        .iter()
        .map(|l| {
            format!(
                "{{\"level\": \"error\", \"message\": {}}}\n",
                serde_json::json!(l)
            )
        })
        .collect();
    let (code, out, err) = run(
        &[
            "signatures",
            "replay",
            "--signatures",
            &c.display().to_string(),
            "--canonicalization",
            "spec",
            "--emit",
            "events",
        ],
        &input,
    );
    assert_eq!(code, 0, "{err}");
    let events = json_lines(&out);
    let script = r##"
import hashlib, json, re, sys
FAMILIES = [("oom", r"Out of memory|OOMKilled"), ("worker_timeout", r"gunicorn.*worker timeout"),
 ("tls_certificate", r"certificate verify failed|x509: .* expired"),
 ("network_reset", r"ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up"),
 ("fd_exhausted", r"Too many open files|ENFILE|EMFILE"), ("disk_full", r"No space left on device|ENOSPC"),
 ("runtime_exception", r"Traceback ?\(|UnhandledPromiseRejection|TypeError:|ReferenceError:"),
 ("nonzero_exit", r"Exited with code (?!0)\d+")]
CATS = [("critical", r"(Out of memory|OOMKilled)"), ("network_db", r"(socket hang up|ECONNRESET|ETIMEDOUT|EAI_AGAIN)"),
 ("app_runtime", r"(TypeError:|ReferenceError:|UnhandledPromiseRejection)"), ("process", r"Exited with code (?!0)\d+")]
for line in sys.stdin.read().splitlines():
    msg = json.loads(line)
    cat = next((c for c, p in CATS if re.search(p, msg)), "unclassified")
    fam = next((f for f, p in FAMILIES if re.search(p, msg)), None)
    if fam is None:
        s = re.sub(r"\b0[xX][0-9a-fA-F]+\b", "0x?", msg, flags=re.A)
        s = re.sub(r"\b\d+\b", "#", s, flags=re.A)
        fam = s[:200].lower()
    print(json.dumps([cat, fam, hashlib.sha1(f"{cat}|{fam}".encode()).hexdigest()[:12]]))
"##;
    let mut child = Command::new(python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let msgs: String = lines
        .iter()
        .map(|l| format!("{}\n", serde_json::json!(l)))
        .collect();
    child.stdin.take().unwrap().write_all(msgs.as_bytes()).unwrap();
    let want = json_lines(&String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap());
    assert_eq!(want.len(), lines.len());
    for (i, (e, w)) in events.iter().zip(&want).enumerate() {
        assert_eq!(e["category"], w[0], "line {i}: {}", lines[i]);
        assert_eq!(e["canonical"], w[1], "line {i}: {}", lines[i]);
        assert_eq!(e["fingerprint"], w[2], "line {i}: {}", lines[i]);
    }
}

#[test]
fn bad_catalogs_are_refused_whole_with_their_reasons() {
    let dir = TempDir::new("engine-bad");
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "categories:\n  net:\n    default_policy: retry\n    signatures:\n      - id: NET\n        pattern: \"(socket\"\n        severity: medium\n        summary: s\n",
    )
    .unwrap();
    let (code, _, err) = run(
        &["signatures", "replay", "--signatures", &bad.display().to_string()],
        "x\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("categories.net.signatures[0] (NET).pattern"),
        "{err}"
    );
    let (code, out, _) = run(&["signatures", "check", &bad.display().to_string()], "");
    assert_eq!(code, 2);
    assert!(out.contains("invalid") && out.contains("(NET).pattern"), "{out}");

    // The same catalog inline in a remote config: rejected, and the reason names it.
    let port = free_port();
    let config = write_config(
        dir.path(),
        port,
        "[mqtt]\nurl = \"mqtt://127.0.0.1:1\"\nremote_config = true\n",
    );
    let remote = dir.path().join("remote.json");
    std::fs::write(
        &remote,
        r#"{"version": 3, "signatures": {"catalog": {"categories": {"net": {"default_policy": "retry",
            "signatures": [{"id": "NET", "pattern": "(socket", "severity": "medium", "summary": "s"}]}}}}}"#,
    )
    .unwrap();
    let (code, _, err) = run(
        &[
            "check-config",
            "--config",
            &config.display().to_string(),
            "--remote",
            &remote.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("signatures.catalog.categories.net.signatures[0] (NET).pattern"),
        "{err}"
    );
    // A catalog file path may not come remotely.
    std::fs::write(
        &remote,
        r#"{"version": 4, "signatures": {"catalog_file": "/etc/shadow"}}"#,
    )
    .unwrap();
    let (code, _, err) = run(
        &[
            "check-config",
            "--config",
            &config.display().to_string(),
            "--remote",
            &remote.display().to_string(),
        ],
        "",
    );
    assert_eq!(code, 2);
    assert!(err.contains("signatures.catalog_file"), "{err}");
}

/// An agent tailing a file with the engine on.
struct Agent {
    dir: TempDir,
    config: PathBuf,
    port: u16,
    log: PathBuf,
}

impl Agent {
    fn new(tag: &str, extra: &str) -> Agent {
        let dir = TempDir::new(tag);
        let (c, g) = catalog_files(dir.path());
        let log = dir.path().join("app.log");
        std::fs::write(&log, "").unwrap();
        let port = free_port();
        let config = write_config(
            dir.path(),
            port,
            &format!(
                "[[logs.source]]\nname = \"app\"\ntype = \"file\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\n\n[signatures]\ncatalog_file = \"{}\"\ngrouping_file = \"{}\"\nstate_interval = \"200ms\"\n{extra}\n",
                log.display(),
                c.display(),
                g.display()
            ),
        );
        Agent {
            dir,
            config,
            port,
            log,
        }
    }

    fn append(&self, lines: &[String]) {
        let mut f = std::fs::OpenOptions::new().append(true).open(&self.log).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
    }

    fn metrics(&self) -> String {
        http_get(&format!("127.0.0.1:{}", self.port), "/metrics")
            .map(|r| r.body)
            .unwrap_or_default()
    }

    fn decisions(&self) -> f64 {
        metric(&self.metrics(), "outpost_engine_decisions_total{kind=\"firing\"}").unwrap_or(-1.0)
    }

    /// Until the engine's state (counts and decisions) is on disk.
    fn wait_saved(&self) {
        wait_for("the engine's state on disk", Duration::from_secs(20), || {
            (metric(&self.metrics(), "outpost_engine_state_unsaved") == Some(0.0)).then_some(())
        });
    }

    fn export(&self) -> Vec<serde_json::Value> {
        let out = Command::new(outpost_bin())
            .args(["store", "export", "--config"])
            .arg(&self.config)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json_lines(&String::from_utf8_lossy(&out.stdout))
    }
}

/// An event time `min:sec` after a base five minutes ago: inside `max_clock_skew` (so the
/// engine keeps the time written in the line) and well inside `resolve_after` (15 min), so no
/// group resolves while a test runs. (A base at the start of the previous hour made the ages
/// depend on the time of day: within the hour's first three minutes the events kept their
/// own, hour-old times and the engine's once-a-second tick resolved them at once.)
fn at(min: u32, sec: u32) -> String {
    let base = now_s() as i64 - 5 * 60;
    outpost::model::event::rfc3339_ms((base + (min * 60 + sec) as i64) * 1000)
}

#[test]
fn the_running_agent_classifies_stores_decisions_and_shows_errors() {
    let a = Agent::new("engine-agent", "");
    let mut p = start_outpost(&a.config, a.port);
    a.append(&[
        format!(
            "{} ERROR db: socket hang up during query password=hunter2",
            at(0, 0)
        ),
        format!("{} ERROR db: socket hang up during query", at(1, 0)),
        format!("{} ERROR db: socket hang up during query", at(2, 0)),
        format!("{} ERROR kernel: Out of memory: Killed process 42", at(3, 0)),
        format!("{} ERROR sensor 7 read failed", at(3, 1)),
        format!("{} INFO all good", at(3, 2)),
        format!("{} ERROR write: Broken pipe", at(3, 3)),
    ]);
    wait_for(
        "two firing decisions, the broken pipe dropped",
        Duration::from_secs(20),
        || {
            let m = a.metrics();
            (a.decisions() == 2.0 && metric(&m, "outpost_engine_events_noise_total") == Some(1.0))
                .then_some(())
        },
    );
    let body = http_get(&format!("127.0.0.1:{}", a.port), "/errors?since=2h")
        .unwrap()
        .body;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{body}");
    assert_eq!(groups[0]["signature"], "NET_RESET");
    assert_eq!(groups[0]["count"], 3);
    assert_eq!(groups[0]["firing"], true);
    assert!(!body.contains("hunter2"), "{body}");
    assert_eq!(
        http_get(&format!("127.0.0.1:{}", a.port), "/errors?since=banana")
            .unwrap()
            .status,
        400
    );
    // `outpost errors` asks the running agent.
    let (code, out, err) = run(
        &[
            "errors",
            "--config",
            &a.config.display().to_string(),
            "--since",
            "2h",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("NET_RESET") && out.contains("FIRING"), "{out}");
    p.signal("TERM");
    p.wait_exit(Duration::from_secs(15)).expect("agent stops");

    // Stopped: `outpost errors` reads the state file.
    let (code, out, err) = run(
        &[
            "errors",
            "--config",
            &a.config.display().to_string(),
            "--since",
            "3h",
            "--json",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["source"].as_str().unwrap().starts_with("stopped agent"),
        "{out}"
    );
    assert_eq!(v["groups"].as_array().unwrap().len(), 3);

    // The store: events with their error fields, the decisions in the alerts class, no
    // secret anywhere.
    let records = a.export();
    let logs: Vec<&serde_json::Value> = records.iter().filter(|r| r["class"] == "logs").collect();
    let alerts: Vec<&serde_json::Value> = records.iter().filter(|r| r["class"] == "alerts").collect();
    assert_eq!(logs.len(), 7);
    let f = &logs[0]["data"]["fields"];
    assert_eq!(f["error_category"], "network_db", "{}", logs[0]);
    assert_eq!(f["error_signature"], "NET_RESET");
    assert_eq!(f["error_policy"], "retry");
    assert_eq!(f["error_summary"], "Transient network issue");
    assert_eq!(f["error_fingerprint"].as_str().unwrap().len(), 12);
    assert_eq!(logs[4]["data"]["fields"]["error_category"], "unclassified");
    assert!(logs[5]["data"]["fields"].get("error_category").is_none(), "info");
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0]["data"]["kind"], "firing");
    assert_eq!(alerts[0]["data"]["signature"], "NET_RESET");
    assert!(alerts[0]["data"]["gateway"]
        .as_str()
        .is_some_and(|g| !g.is_empty()));
    assert_eq!(alerts[0]["data"]["key"].as_str().unwrap().split(':').count(), 3);
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains("hunter2"), "a secret reached the store");
    let agent_log = std::fs::read_to_string(a.dir.path().join("outpost.log")).unwrap();
    assert!(agent_log.contains("alert firing"), "{agent_log}");
    assert!(!agent_log.contains("hunter2"));
}

#[test]
fn kill_9_in_the_middle_of_a_window_keeps_counts_and_cooldowns() {
    let a = Agent::new("engine-kill", "");
    let mut p = start_outpost(&a.config, a.port);
    a.append(&[
        format!("{} ERROR socket hang up", at(0, 0)),
        format!("{} ERROR socket hang up", at(0, 30)),
    ]);
    let state = a.dir.path().join("data/engine-state.bin");
    wait_for("two events counted and saved", Duration::from_secs(20), || {
        let m = a.metrics();
        (metric(
            &m,
            "outpost_engine_events_classified_total{category=\"network_db\",signature=\"NET_RESET\"}",
        ) == Some(2.0)
            && state.exists())
        .then_some(())
    });
    a.wait_saved();
    p.signal("KILL");
    p.wait_exit(Duration::from_secs(10));

    let mut p = start_outpost(&a.config, a.port);
    a.append(&[format!("{} ERROR socket hang up", at(1, 0))]);
    wait_for(
        "the third event fires the restored window",
        Duration::from_secs(20),
        || (a.decisions() == 1.0).then_some(()),
    );
    a.wait_saved();
    p.signal("KILL");
    p.wait_exit(Duration::from_secs(10));

    // A crash-looping service: after the restart, more of the same inside the cooldown
    // does not alert again.
    let mut p = start_outpost(&a.config, a.port);
    a.append(&[
        format!("{} ERROR socket hang up", at(2, 0)),
        format!("{} ERROR socket hang up", at(2, 10)),
        format!("{} ERROR socket hang up", at(2, 20)),
    ]);
    wait_for("the events are counted", Duration::from_secs(20), || {
        (metric(
            &a.metrics(),
            "outpost_engine_events_classified_total{category=\"network_db\",signature=\"NET_RESET\"}",
        ) == Some(3.0))
        .then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(a.decisions(), 0.0, "the cooldown survived the kill");
    p.signal("TERM");
    p.wait_exit(Duration::from_secs(15));
    let alerts: Vec<serde_json::Value> = a
        .export()
        .into_iter()
        .filter(|r| r["class"] == "alerts")
        .collect();
    assert_eq!(alerts.len(), 1, "one firing over three runs: {alerts:?}");
    assert_eq!(alerts[0]["data"]["count"], 3);
}

#[test]
fn shadow_mode_records_nothing_to_send_and_says_so() {
    let a = Agent::new("engine-shadow", "shadow = true");
    let mut p = start_outpost(&a.config, a.port);
    a.append(&[format!("{} ERROR pod OOMKilled", at(0, 0))]);
    wait_for("the firing decision", Duration::from_secs(20), || {
        (a.decisions() == 1.0).then_some(())
    });
    assert_eq!(metric(&a.metrics(), "outpost_engine_shadow"), Some(1.0));
    p.signal("TERM");
    p.wait_exit(Duration::from_secs(15));
    let records = a.export();
    assert!(records.iter().all(|r| r["class"] != "alerts"), "nothing to send");
    let log = std::fs::read_to_string(a.dir.path().join("outpost.log")).unwrap();
    assert!(log.contains("SHADOW MODE"), "{log}");
    assert!(log.contains("alert firing (shadow: not sent)"), "{log}");
}

/// Grouping accuracy on the 16 LogHub samples with the default configuration (v1 with
/// learning): a regression guard for the figure in docs/ENGINE.md.
#[test]
fn grouping_accuracy_on_loghub_holds() {
    let python = require(&["python3"], "python3");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let loghub = root.join("../shared/data/loghub");
    assert!(
        loghub.is_dir(),
        "LogHub samples missing at {}: the accuracy guard needs them",
        loghub.display()
    );
    let out = Command::new(python)
        .arg(root.join("scripts/grouping-accuracy.py"))
        .args(["--bin"])
        .arg(outpost_bin())
        .args(["--canonicalization", "spec,v1", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = v.as_object().unwrap();
    assert_eq!(m.len(), 16);
    let mean = |ver: &str| m.values().map(|d| d[ver][0].as_f64().unwrap()).sum::<f64>() / 16.0;
    assert!(mean("v1") >= 0.90, "v1 mean {}", mean("v1"));
    assert!(mean("v1") > mean("spec"));
}
