//! Alert delivery end to end, through a tailed file and the real agent: Debian's
//! `prometheus-alertmanager` (firing with its labels, kept active past its `endsAt` horizon by
//! re-sends, resolved; an HA pair with one instance down that catches up), Slack and Telegram
//! receivers that check the request shape and answer 429 with their documented retry hints
//! (nothing lost, nothing faster than the limits, bursts collapsed), a local command, the
//! policies (escalate reaches every sink at once, retry is held for people), shadow mode, and
//! decisions made while every sink is down delivered in order after a `kill -9`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::prom::{Answer, Receiver};
use common::*;
use serde_json::Value;

const RELAYS: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo",
    "lima",
];

/// The log line of relay `i` (1-based). The names differ in words, not digits: a group is
/// `category + canonical form`, and digits are masked in the canonical form.
fn relay(i: usize) -> String {
    format!("relay {} stuck", RELAYS[i - 1])
}

/// The spec's categories plus `device` (immediate, notify) with twelve relay signatures, so a
/// test can make many distinct groups fire at once.
fn catalog() -> String {
    let mut relays = String::new();
    for i in 1..=12 {
        relays.push_str(&format!(
            "      - id: RELAY_{i:02}\n        pattern: \"{}\"\n        severity: high\n        summary: \"Relay {} stuck\"\n",
            relay(i),
            RELAYS[i - 1]
        ));
    }
    format!(
        r#"noise_allowlist:
  - "Broken pipe|context canceled"
categories:
  critical:
    default_policy: escalate
    signatures:
      - id: OOM
        pattern: "(Out of memory|OOMKilled)"
        severity: critical
        summary: "Out-of-memory condition"
  network_db:
    default_policy: retry
    signatures:
      - id: NET_RESET
        pattern: "(socket hang up|ECONNRESET|ETIMEDOUT|EAI_AGAIN)"
        severity: medium
        summary: "Transient network issue"
  device:
    default_policy: notify
    signatures:
{relays}"#
    )
}

const GROUPING: &str = "window_minutes: 5\nmin_count_default: 3\ncooldown_minutes: 10\nimmediate_categories: [\"critical\", \"device\"]\n";

struct Agent {
    /// Kept for its lifetime: removed on drop.
    _dir: TempDir,
    config: PathBuf,
    port: u16,
    log: PathBuf,
    proc: Option<Proc>,
}

impl Agent {
    /// An agent tailing `app.log` with the test catalog; `alerts` is the `[alerts]` part.
    fn new(tag: &str, signatures_extra: &str, alerts: &str) -> Agent {
        let dir = TempDir::new(tag);
        let c = dir.path().join("error_signatures.yml");
        let g = dir.path().join("alerts.yml");
        std::fs::write(&c, catalog()).unwrap();
        std::fs::write(&g, GROUPING).unwrap();
        let log = dir.path().join("app.log");
        std::fs::write(&log, "").unwrap();
        let port = free_port();
        let config = write_config(
            dir.path(),
            port,
            &format!(
                "[[logs.source]]\nname = \"app\"\ntype = \"file\"\npaths = [\"{}\"]\nstart_at = \"beginning\"\n\n\
                 [signatures]\ncatalog_file = \"{}\"\ngrouping_file = \"{}\"\nstate_interval = \"200ms\"\n{signatures_extra}\n\n{alerts}\n",
                log.display(),
                c.display(),
                g.display()
            ),
        );
        let text =
            std::fs::read_to_string(&config)
                .unwrap()
                .replacen("[agent]\n", "[agent]\nid = \"gw-test\"\n", 1);
        std::fs::write(&config, text).unwrap();
        Agent {
            _dir: dir,
            config,
            port,
            log,
            proc: None,
        }
    }

    fn start(&mut self) {
        self.proc = Some(start_outpost(&self.config, self.port));
    }

    fn kill_9(&mut self) {
        if let Some(p) = self.proc.take() {
            p.signal("KILL");
            drop(p);
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

    fn metric(&self, series: &str) -> f64 {
        metric(&self.metrics(), series).unwrap_or(-1.0)
    }

    fn agent_log(&self) -> String {
        std::fs::read_to_string(self.config.with_file_name("outpost.log")).unwrap_or_default()
    }
}

/// A line stamped `ago` seconds in the past (event time drives the engine's windows).
fn line(ago: i64, text: &str) -> String {
    let t = (now_s() * 1000.0) as i64 - ago * 1000;
    format!("{} ERROR {text}", outpost::model::event::rfc3339_ms(t))
}

/// Debian's Alertmanager on a loopback port, its state in `dir`, notifying `hook`.
struct Alertmanager {
    port: u16,
    _proc: Proc,
}

impl Alertmanager {
    fn start(dir: &Path, port: u16, hook: &str) -> Alertmanager {
        let bin = require(
            &["prometheus-alertmanager", "alertmanager"],
            "prometheus-alertmanager",
        );
        let home = dir.join(format!("am-{port}"));
        std::fs::create_dir_all(home.join("data")).unwrap();
        let cfg = home.join("alertmanager.yml");
        std::fs::write(
            &cfg,
            format!(
                "route:\n  receiver: hook\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
                 receivers:\n  - name: hook\n    webhook_configs:\n      - url: {hook}\n        send_resolved: true\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(home.join("alertmanager.log")).unwrap();
        let proc = Proc::spawn(
            "alertmanager",
            Command::new(bin)
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!("--storage.path={}", home.join("data").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--cluster.listen-address=")
                .stdout(log.try_clone().unwrap())
                .stderr(log),
        );
        let addr = format!("127.0.0.1:{port}");
        wait_for("alertmanager ready", Duration::from_secs(30), || {
            http_get(&addr, "/-/ready").ok().filter(|r| r.status == 200)
        });
        Alertmanager { port, _proc: proc }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /api/v2/alerts`: the alerts Alertmanager holds as active (not resolved).
    fn alerts(&self) -> Vec<Value> {
        http_get(&format!("127.0.0.1:{}", self.port), "/api/v2/alerts")
            .ok()
            .filter(|r| r.status == 200)
            .and_then(|r| serde_json::from_str::<Value>(&r.body).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    fn alert(&self, name: &str) -> Option<Value> {
        self.alerts()
            .into_iter()
            .find(|a| a["labels"]["alertname"] == name && a["status"]["state"] == "active")
    }
}

fn bodies(r: &Receiver) -> Vec<Value> {
    r.received()
        .iter()
        .filter_map(|q| serde_json::from_slice(&q.body).ok())
        .collect()
}

/// Webhook notifications from Alertmanager with `status` for `alertname`.
fn notified(hook: &Receiver, alertname: &str, status: &str) -> bool {
    bodies(hook).iter().any(|b| {
        b["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["labels"]["alertname"] == alertname && a["status"] == status)
    })
}

#[test]
fn alertmanager_gets_the_firing_keeps_it_active_past_its_horizon_and_resolves_it() {
    let hook = Receiver::start(|_, _| Answer::status(200));
    let dir = TempDir::new("am-one");
    let am = Alertmanager::start(dir.path(), free_port(), &hook.url("/hook"));
    let mut a = Agent::new(
        "alerts-am",
        "resolve_after = \"1m\"",
        &format!(
            "[alerts.alertmanager]\nurls = [\"{}\"]\nresend_interval = \"1s\"\nlabels = {{ site = \"north\" }}\n",
            am.url()
        ),
    );
    a.start();
    // Three `socket hang up` lines (the seed's case), stamped 35 s ago: the group fires now
    // and resolves about 25 s from now, after a minute of quiet in event time.
    a.append(
        &(0..3)
            .map(|_| line(35, "upstream: socket hang up"))
            .collect::<Vec<_>>(),
    );
    let first = wait_for(
        "NET_RESET active in Alertmanager",
        Duration::from_secs(20),
        || am.alert("NET_RESET"),
    );
    let labels = &first["labels"];
    for (k, v) in [
        ("severity", "medium"),
        ("category", "network_db"),
        ("policy", "retry"),
        ("gateway", "gw-test"),
        ("site", "north"),
    ] {
        assert_eq!(labels[k], v, "label {k} in {first}");
    }
    let fp = labels["fingerprint"].as_str().unwrap_or_default();
    assert!(
        fp.len() == 12 && fp.chars().all(|c| c.is_ascii_hexdigit()),
        "{first}"
    );
    assert_eq!(first["annotations"]["summary"], "Transient network issue");
    assert!(first["annotations"]["key"]
        .as_str()
        .unwrap_or_default()
        .starts_with(&format!("{fp}:firing:")));
    assert!(first["annotations"]["samples"]
        .as_str()
        .unwrap_or_default()
        .contains("socket hang up"));
    let ends = |a: &Value| a["endsAt"].as_str().unwrap_or_default().to_string();
    let first_ends = ends(&first);
    // endsAt is four resend intervals (4 s) ahead; past it, the alert is still active because
    // it was sent again, each time with a later endsAt.
    std::thread::sleep(Duration::from_secs(7));
    let later = am.alert("NET_RESET").expect("still active past its first endsAt");
    assert!(ends(&later) > first_ends, "{} after {}", ends(&later), first_ends);
    assert!(notified(&hook, "NET_RESET", "firing"));
    // The resolve: Alertmanager notifies it as resolved, and no longer lists it as active.
    wait_for(
        "the resolve notified by Alertmanager",
        Duration::from_secs(60),
        || notified(&hook, "NET_RESET", "resolved").then_some(()),
    );
    assert!(am.alert("NET_RESET").is_none());
    let m = a.metrics();
    assert!(
        metric(
            &m,
            "outpost_alerts_sent_total{sink=\"alertmanager_1\",kind=\"firing\",result=\"delivered\"}"
        ) == Some(1.0),
        "{m}"
    );
    assert!(
        metric(
            &m,
            "outpost_alerts_sent_total{sink=\"alertmanager_1\",kind=\"resolved\",result=\"delivered\"}"
        ) == Some(1.0)
    );
    assert!(
        metric(
            &m,
            "outpost_alerts_last_success_timestamp_seconds{sink=\"alertmanager_1\"}"
        )
        .unwrap_or(0.0)
            > 0.0
    );
}

#[test]
fn an_alertmanager_that_is_down_catches_up_and_the_other_gets_everything() {
    let hook = Receiver::start(|_, _| Answer::status(200));
    let dir = TempDir::new("am-pair");
    let am1 = Alertmanager::start(dir.path(), free_port(), &hook.url("/hook"));
    let port2 = free_port();
    // resend_interval 1h: the catch-up must come from the store, not from the re-sender.
    let mut a = Agent::new(
        "alerts-am-pair",
        "",
        &format!(
            "[alerts.alertmanager]\nurls = [\"{}\", \"http://127.0.0.1:{port2}\"]\nresend_interval = \"1h\"\n",
            am1.url()
        ),
    );
    a.start();
    a.append(&[line(0, "kernel: OOMKilled process 4242 (worker)")]);
    a.append(&[line(0, &relay(1))]);
    wait_for(
        "both alerts in the running Alertmanager",
        Duration::from_secs(20),
        || (am1.alert("OOM").is_some() && am1.alert("RELAY_01").is_some()).then_some(()),
    );
    let backlog = "outpost_store_sink_backlog_records{sink=\"alertmanager_2\"}";
    wait_for(
        "the down instance's backlog counted",
        Duration::from_secs(10),
        || (a.metric(backlog) >= 1.0).then_some(()),
    );
    let am2 = Alertmanager::start(dir.path(), port2, &hook.url("/hook"));
    wait_for(
        "the second Alertmanager caught up",
        Duration::from_secs(90),
        || (am2.alert("OOM").is_some() && am2.alert("RELAY_01").is_some()).then_some(()),
    );
    wait_for("its backlog drained", Duration::from_secs(10), || {
        (a.metric(backlog) == 0.0).then_some(())
    });
}

/// Spacing between consecutive requests, in seconds.
fn gaps(r: &Receiver) -> Vec<f64> {
    let at: Vec<Instant> = r.received().iter().map(|q| q.at).collect();
    at.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect()
}

/// The relay ids named in message texts (`RELAY_07`), in order of arrival.
fn relays_in(texts: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for t in texts {
        for w in t.split_whitespace() {
            if w.starts_with("RELAY_") && w.len() == 8 {
                out.push(w.to_string());
            }
        }
    }
    out
}

#[test]
fn slack_and_telegram_collapse_bursts_honour_their_limits_and_lose_nothing() {
    // Slack: the first request gets 429 with Retry-After: 2 (its documented answer).
    let slack = Receiver::start(|i, _| {
        if i == 0 {
            Answer::status(429)
                .header("Retry-After", "2")
                .body("rate_limited")
        } else {
            Answer::status(200).body("ok")
        }
    });
    // Telegram: the second request gets its documented 429 with parameters.retry_after.
    let telegram = Receiver::start(|i, q| {
        let ok = q.path == "/bot123456:TEST-token/sendMessage"
            && q.header("content-type") == Some("application/json");
        if !ok {
            return Answer::status(404).body(r#"{"ok":false,"error_code":404,"description":"Not Found"}"#);
        }
        if i == 1 {
            Answer::status(429).body(
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#,
            )
        } else {
            Answer::status(200).body(r#"{"ok":true,"result":{"message_id":1}}"#)
        }
    });
    let tmp = TempDir::new("alerts-chat-secrets");
    let hook_file = tmp.path().join("slack-webhook");
    std::fs::write(&hook_file, format!("{}\n", slack.url("/services/T000/B000/XXXX"))).unwrap();
    let token_file = tmp.path().join("telegram-token");
    std::fs::write(&token_file, "123456:TEST-token\n").unwrap();
    let mut a = Agent::new(
        "alerts-chat",
        "",
        &format!(
            "[alerts.slack]\nwebhook_url_file = \"{}\"\nmin_interval = \"1s\"\n\n\
             [alerts.telegram]\nbot_token_file = \"{}\"\nchat_id = \"-100200300\"\napi_url = \"{}\"\nmin_interval = \"1s\"\n",
            hook_file.display(),
            token_file.display(),
            telegram.url("")
        ),
    );
    a.start();
    // A burst of seven groups, then five more one by one.
    a.append(&(1..=7).map(|i| line(0, &relay(i))).collect::<Vec<_>>());
    std::thread::sleep(Duration::from_secs(3));
    for i in 8..=12 {
        a.append(&[line(0, &relay(i))]);
        std::thread::sleep(Duration::from_millis(200));
    }
    let want: Vec<String> = (1..=12).map(|i| format!("RELAY_{i:02}")).collect();
    for (name, r, text_of) in [
        (
            "slack",
            &slack,
            (|b: &Value| b["text"].as_str().map(str::to_string)) as fn(&Value) -> Option<String>,
        ),
        ("telegram", &telegram, |b: &Value| {
            assert_eq!(b["chat_id"], "-100200300", "{b}");
            b["text"].as_str().map(str::to_string)
        }),
    ] {
        let delivered = |r: &Receiver| -> Vec<String> {
            // Only answered-200 requests count: the 429'd one is sent again.
            let all = bodies(r);
            let texts: Vec<String> = all.iter().filter_map(text_of).collect();
            let refused = if name == "slack" { 0 } else { 1 };
            texts
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i != refused)
                .map(|(_, t)| t)
                .collect()
        };
        wait_for(
            &format!("all twelve alerts on {name}"),
            Duration::from_secs(60),
            || {
                let mut got = relays_in(&delivered(r));
                got.sort();
                got.dedup();
                (got == want).then_some(())
            },
        );
        let texts = delivered(r);
        // The burst of seven (read as the store commits them) goes out in one or two messages.
        let collapsed = texts
            .iter()
            .filter_map(|t| t.split_once(" alerts on gw-test:"))
            .filter_map(|(n, _)| n.parse::<usize>().ok())
            .max()
            .unwrap_or(1);
        assert!(collapsed >= 4, "{name}: the burst did not collapse: {texts:#?}");
        assert!(texts.len() < 12, "{name}: {} messages for 12 alerts", texts.len());
        assert!(
            texts.iter().all(|t| t.contains("HIGH") && t.contains("gw-test")),
            "{texts:#?}"
        );
        let g = gaps(r);
        assert!(
            g.iter().all(|s| *s >= 0.95),
            "{name}: faster than one per second: {g:?}"
        );
        let hint = if name == "slack" { 2.0 } else { 3.0 };
        let after_429 = if name == "slack" { g[0] } else { g[1] };
        assert!(
            after_429 >= hint - 0.05,
            "{name}: the retry hint ({hint} s) was not honoured: {g:?}"
        );
    }
    let m = a.metrics();
    assert_eq!(
        metric(
            &m,
            "outpost_alerts_sent_total{sink=\"slack\",kind=\"firing\",result=\"delivered\"}"
        ),
        Some(12.0),
        "{m}"
    );
    assert_eq!(
        metric(
            &m,
            "outpost_alerts_sent_total{sink=\"slack\",kind=\"firing\",result=\"retry\"}"
        ),
        // The decisions of the request that got the 429 (as many as the store had committed
        // when it was read), each counted once as a failed attempt.
        Some(relays_in(&[bodies(&slack)[0]["text"].as_str().unwrap_or("").to_string()]).len() as f64),
        "{m}"
    );
    let log = a.agent_log();
    assert!(
        !log.contains("XXXX") && !log.contains("TEST-token"),
        "a secret in the log:\n{log}"
    );
}

#[test]
fn oom_escalates_to_every_sink_at_once_and_retry_is_held_for_people() {
    let hook = Receiver::start(|_, _| Answer::status(200));
    let dir = TempDir::new("am-escalate");
    let am = Alertmanager::start(dir.path(), free_port(), &hook.url("/hook"));
    let slack = Receiver::start(|_, _| Answer::status(200).body("ok"));
    let telegram = Receiver::start(|_, _| Answer::status(200).body(r#"{"ok":true}"#));
    let tmp = TempDir::new("alerts-escalate-files");
    std::fs::write(tmp.path().join("hook"), slack.url("/services/T/B/C")).unwrap();
    let out = tmp.path().join("siren.jsonl");
    let siren = tmp.path().join("siren");
    std::fs::write(&siren, format!("#!/bin/sh\ncat >> {}\n", out.display())).unwrap();
    Command::new("chmod").arg("+x").arg(&siren).status().unwrap();
    std::env::set_var("OUTPOST_TEST_TG", "42:abc");
    let mut a = Agent::new(
        "alerts-escalate",
        "",
        &format!(
            "[alerts.alertmanager]\nurls = [\"{}\"]\n\n\
             [alerts.slack]\nwebhook_url_file = \"{}\"\nmin_severity = \"high\"\n\n\
             [alerts.telegram]\nbot_token_env = \"OUTPOST_TEST_TG\"\nchat_id = \"7\"\napi_url = \"{}\"\nescalation_only = true\n\n\
             [alerts.exec]\ncommand = [\"{}\"]\nescalation_only = true\nmin_severity = \"critical\"\ncategories = [\"nothing-matches\"]\n",
            am.url(),
            tmp.path().join("hook").display(),
            telegram.url(""),
            siren.display()
        ),
    );
    // The agent inherits OUTPOST_TEST_TG from this process.
    a.start();
    a.append(&(0..3).map(|_| line(0, "db: socket hang up")).collect::<Vec<_>>());
    wait_for(
        "NET_RESET in Alertmanager (retry_policy = send)",
        Duration::from_secs(20),
        || am.alert("NET_RESET"),
    );
    a.append(&[line(
        0,
        "kernel: Memory cgroup out of memory: OOMKilled process 9 (java)",
    )]);
    let seen = Instant::now();
    wait_for("OOM at every sink", Duration::from_secs(20), || {
        let exec = std::fs::read_to_string(&out).unwrap_or_default();
        let s = bodies(&slack)
            .iter()
            .any(|b| b["text"].as_str().unwrap_or("").contains("OOM"));
        let t = bodies(&telegram)
            .iter()
            .any(|b| b["text"].as_str().unwrap_or("").contains("OOM"));
        (exec.contains("\"signature\":\"OOM\"") && s && t && am.alert("OOM").is_some()).then_some(())
    });
    assert!(
        seen.elapsed() < Duration::from_secs(10),
        "escalation took {:?}",
        seen.elapsed()
    );
    // exec got the decision as JSON, with its de-duplication key.
    let exec = std::fs::read_to_string(&out).unwrap();
    let d: Value = serde_json::from_str(exec.lines().next().unwrap()).unwrap();
    assert_eq!(
        (d["kind"].as_str(), d["policy"].as_str()),
        (Some("firing"), Some("escalate"))
    );
    assert!(d["key"].as_str().unwrap_or("").contains(":firing:"));
    assert_eq!(
        exec.lines().count(),
        1,
        "only the escalation reached the siren: {exec}"
    );
    // NET_RESET (retry, medium) reached nobody but Alertmanager, and that is counted.
    assert!(bodies(&slack)
        .iter()
        .all(|b| !b["text"].as_str().unwrap_or("").contains("NET_RESET")));
    assert!(bodies(&telegram)
        .iter()
        .all(|b| !b["text"].as_str().unwrap_or("").contains("NET_RESET")));
    let m = a.metrics();
    for (sink, result) in [
        ("slack", "retry_policy"),
        ("telegram", "retry_policy"),
        ("exec", "retry_policy"),
    ] {
        let s = format!("outpost_alerts_sent_total{{sink=\"{sink}\",kind=\"firing\",result=\"{result}\"}}");
        assert_eq!(metric(&m, &s), Some(1.0), "{s}\n{m}");
    }
    assert_eq!(
        metric(&m, "outpost_exec_requests_total{code=\"0\"}"),
        Some(1.0),
        "{m}"
    );
}

#[test]
fn shadow_mode_sends_nothing_and_says_so() {
    let slack = Receiver::start(|_, _| Answer::status(200).body("ok"));
    let tmp = TempDir::new("alerts-shadow-files");
    std::fs::write(tmp.path().join("hook"), slack.url("/services/T/B/C")).unwrap();
    let mut a = Agent::new(
        "alerts-shadow",
        "shadow = true",
        &format!(
            "[alerts.slack]\nwebhook_url_file = \"{}\"\n",
            tmp.path().join("hook").display()
        ),
    );
    a.start();
    a.append(&[line(0, "kernel: OOMKilled process 1 (x)")]);
    wait_for("the engine decided", Duration::from_secs(20), || {
        (a.metric("outpost_engine_decisions_total{kind=\"firing\"}") >= 1.0).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(slack.received().is_empty(), "sent in shadow mode");
    assert_eq!(a.metric("outpost_alerts_shadow"), 1.0);
    assert!(a.agent_log().contains("SHADOW MODE"), "{}", a.agent_log());
}

#[test]
fn decisions_made_while_every_sink_is_down_arrive_in_order_after_a_kill_9() {
    let up = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&up);
    let slack = Receiver::start(move |_, _| {
        if flag.load(Ordering::SeqCst) {
            Answer::status(200).body("ok")
        } else {
            Answer::status(503).body("upstream down")
        }
    });
    let hook = Receiver::start(|_, _| Answer::status(200));
    let dir = TempDir::new("am-offline");
    let am_port = free_port();
    let tmp = TempDir::new("alerts-offline-files");
    std::fs::write(tmp.path().join("hook"), slack.url("/services/T/B/C")).unwrap();
    let out = tmp.path().join("display.jsonl");
    let ready = tmp.path().join("display-ready");
    let display = tmp.path().join("display");
    // A local display that is "down" (exit 75: try again later) until `ready` exists.
    std::fs::write(
        &display,
        format!(
            "#!/bin/sh\n[ -f {} ] || exit 75\ncat >> {}\n",
            ready.display(),
            out.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&display).status().unwrap();
    let mut a = Agent::new(
        "alerts-offline",
        "",
        &format!(
            "[alerts.alertmanager]\nurls = [\"http://127.0.0.1:{am_port}\"]\nresend_interval = \"1h\"\n\n\
             [alerts.slack]\nwebhook_url_file = \"{}\"\nmin_interval = \"1s\"\nmax_per_message = 1\n\n\
             [alerts.exec]\ncommand = [\"{}\"]\nmin_interval = \"0s\"\n",
            tmp.path().join("hook").display(),
            display.display()
        ),
    );
    a.start();
    for i in 1..=3 {
        a.append(&[line(0, &relay(i))]);
        std::thread::sleep(Duration::from_millis(1200));
    }
    wait_for("three decisions stored", Duration::from_secs(20), || {
        (a.metric("outpost_engine_decisions_total{kind=\"firing\"}") >= 3.0).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    a.kill_9();
    a.start();
    a.append(&[line(0, &relay(4))]);
    wait_for("the fourth decision", Duration::from_secs(20), || {
        (a.metric("outpost_engine_decisions_total{kind=\"firing\"}") >= 1.0).then_some(())
    });
    // Everything comes back.
    up.store(true, Ordering::SeqCst);
    std::fs::write(&ready, "").unwrap();
    let am = Alertmanager::start(dir.path(), am_port, &hook.url("/hook"));
    let want: Vec<String> = (1..=4).map(|i| format!("RELAY_{i:02}")).collect();
    wait_for("slack got all four", Duration::from_secs(120), || {
        let texts: Vec<String> = bodies(&slack)
            .iter()
            .filter_map(|b| b["text"].as_str().map(str::to_string))
            .collect();
        let mut got = relays_in(&texts[texts.len().saturating_sub(20)..]);
        got.dedup();
        got.retain(|x| want.contains(x));
        let mut uniq = got.clone();
        uniq.sort();
        uniq.dedup();
        (uniq == want).then_some(got)
    });
    wait_for("the display got all four", Duration::from_secs(120), || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let got: Vec<String> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|d| d["signature"].as_str().map(str::to_string))
            .collect();
        let mut uniq = got.clone();
        uniq.dedup();
        (uniq == want).then_some(())
    });
    wait_for("Alertmanager got all four", Duration::from_secs(120), || {
        want.iter().all(|w| am.alert(w).is_some()).then_some(())
    });
    // In order: the first delivered message of each relay comes in the order they fired.
    let texts: Vec<String> = slack
        .received()
        .iter()
        .filter_map(|q| serde_json::from_slice::<Value>(&q.body).ok())
        .filter_map(|b| b["text"].as_str().map(str::to_string))
        .collect();
    let mut firsts = relays_in(&texts);
    let mut seen = Vec::new();
    firsts.retain(|x| {
        let new = !seen.contains(x);
        seen.push(x.clone());
        new
    });
    assert_eq!(firsts, want, "slack order");
    let text = std::fs::read_to_string(&out).unwrap();
    let order: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|d| d["signature"].as_str().map(str::to_string))
        .collect();
    let mut firsts = order.clone();
    firsts.dedup();
    assert_eq!(firsts, want, "display order: {order:?}");
}

#[test]
fn the_mqtt_uplink_publishes_the_alerts_its_route_takes() {
    let dir = TempDir::new("alerts-mqtt-broker");
    // Started by `new`.
    let broker = common::broker::Broker::new(dir.path());
    let out = dir.path().join("sub.txt");
    let _sub = common::broker::subscribe(broker.port, "alerts-sub", &out);
    let mut a = Agent::new(
        "alerts-mqtt",
        "",
        &format!(
            "[mqtt]\nurl = \"mqtt://127.0.0.1:{}\"\nlinger = \"100ms\"\n\n[alerts.mqtt]\nmin_severity = \"critical\"\n",
            broker.port
        ),
    );
    a.start();
    a.append(&(0..3).map(|_| line(0, "db: socket hang up")).collect::<Vec<_>>());
    wait_for(
        "NET_RESET held back by [alerts.mqtt]",
        Duration::from_secs(20),
        || {
            (a.metric("outpost_alerts_sent_total{sink=\"mqtt\",kind=\"firing\",result=\"severity\"}") == 1.0)
                .then_some(())
        },
    );
    a.append(&[line(0, "kernel: OOMKilled process 77 (node)")]);
    let alerts = wait_for("OOM on <prefix>/<id>/alerts", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("outpost/gw-test/alerts "))
            .filter_map(|p| serde_json::from_str(p).ok())
            .collect();
        lines
            .iter()
            .any(|b| {
                b["records"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| r["data"]["signature"] == "OOM")
            })
            .then_some(lines)
    });
    let records: Vec<Value> = alerts
        .iter()
        .flat_map(|b| b["records"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        records.iter().all(|r| r["data"]["signature"] != "NET_RESET"),
        "{alerts:?}"
    );
    let d = &records[0]["data"];
    for key in [
        "fingerprint",
        "category",
        "policy",
        "severity",
        "summary",
        "count",
        "first_seen",
        "last_seen",
        "samples",
        "kind",
        "gateway",
        "key",
    ] {
        assert!(!d[key].is_null(), "{key} missing in {d}");
    }
    assert_eq!(d["gateway"], "gw-test");
    wait_for(
        "counted as delivered at the PUBACK",
        Duration::from_secs(10),
        || {
            (a.metric("outpost_alerts_sent_total{sink=\"mqtt\",kind=\"firing\",result=\"delivered\"}") == 1.0)
                .then_some(())
        },
    );
}
