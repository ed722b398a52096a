//! Remote configuration over the retained config topic, against a real mosquitto: a config is
//! applied (the sampling rate changes), bad ones are rejected with key paths while the old
//! behaviour continues, the last known good is used on a restart with the broker down, and
//! an uplink change that does not come back within the health window is rolled back.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::broker::*;
use common::*;

const CONFIG: &str = "outpost/gw1/config";
const STATUS: &str = "outpost/gw1/config/status";

fn config(dir: &Path, broker: u16, port: u16) -> PathBuf {
    let path = dir.join("outpost.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nid = \"gw1\"\ndata_dir = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [sample]\ninterval = \"200ms\"\n\n[store]\ncommit_interval = \"200ms\"\n\n\
             [mqtt]\nurl = \"mqtt://127.0.0.1:{broker}\"\nreconnect_min = \"200ms\"\nreconnect_max = \"1s\"\n\
             linger = \"100ms\"\nhealth_window = \"4s\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    path
}

fn scrape(addr: &str, series: &str) -> f64 {
    let body = http_get(addr, "/metrics").expect("scrape").body;
    metric(&body, series).unwrap_or_else(|| panic!("{series} missing"))
}

/// Sampling cycles per second over `window`, from the agent's own counter.
fn cycle_rate(addr: &str, window: Duration) -> f64 {
    let a = scrape(addr, "outpost_sample_cycles_total");
    let t = Instant::now();
    std::thread::sleep(window);
    let b = scrape(addr, "outpost_sample_cycles_total");
    (b - a) / t.elapsed().as_secs_f64()
}

/// Waits for the retained config status of `version` and returns it as JSON.
fn status_of(port: u16, version: u64, timeout: Duration) -> serde_json::Value {
    wait_for(&format!("config status for version {version}"), timeout, || {
        let text = retained(port, STATUS)?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        (v["version"] == version).then_some(v)
    })
}

#[test]
fn remote_config_apply_reject_last_known_good_and_rollback() {
    let dir = TempDir::new("mqtt-remote");
    let mut broker = Broker::new(dir.path());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = config(dir.path(), broker.port, port);
    let mut agent = start_outpost(&cfg, port);
    wait_for("uplink connected", Duration::from_secs(15), || {
        (scrape(&addr, "outpost_mqtt_connected") == 1.0).then_some(())
    });
    let before = cycle_rate(&addr, Duration::from_secs(2));

    // Apply: the interval goes from 200 ms to 1 s.
    publish(
        broker.port,
        CONFIG,
        r#"{"version": 5, "sample": {"interval": "1s"}}"#,
        true,
    );
    let st = status_of(broker.port, 5, Duration::from_secs(10));
    assert_eq!(st["result"], "applied", "{st}");
    assert_eq!(st["errors"], serde_json::json!([]));
    assert!(st["at"].as_i64().unwrap() > 1_700_000_000_000);
    std::thread::sleep(Duration::from_millis(1200));
    let after = cycle_rate(&addr, Duration::from_secs(4));
    eprintln!("sampling rate: {before:.2}/s before, {after:.2}/s after version 5");
    assert!(before > 3.0 && after < 1.6, "rate {before:.2}/s -> {after:.2}/s");
    assert_eq!(scrape(&addr, "outpost_config_remote_version"), 5.0);

    // Reject: a local-only key, a bad regex and an unknown key, all reported with key paths.
    publish(
        broker.port,
        CONFIG,
        r#"{"version": 6, "agent": {"data_dir": "/tmp/elsewhere"}, "sample": {"interval": "200ms"}}"#,
        true,
    );
    let st = status_of(broker.port, 6, Duration::from_secs(10));
    assert_eq!(st["result"], "rejected", "{st}");
    assert!(
        st["errors"][0].as_str().unwrap().starts_with("agent.data_dir: "),
        "{st}"
    );
    assert_eq!(st["active_version"], 5, "{st}");
    publish(
        broker.port,
        CONFIG,
        r#"{"version": 7, "sample": {"interval": "200ms", "netdev": {"device_exclude": "^(eth"}}}"#,
        true,
    );
    let st = status_of(broker.port, 7, Duration::from_secs(10));
    assert_eq!(st["result"], "rejected", "{st}");
    assert!(
        st["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("sample.netdev.device_exclude: "),
        "{st}"
    );
    publish(
        broker.port,
        CONFIG,
        r#"{"version": 8, "sample": {"intervall": "1s"}}"#,
        true,
    );
    let st = status_of(broker.port, 8, Duration::from_secs(10));
    assert!(
        st["errors"][0]
            .as_str()
            .unwrap()
            .contains("unknown field `intervall`"),
        "{st}"
    );
    // Invalid JSON has no version to report; going backwards is refused.
    publish(broker.port, CONFIG, r#"{"version": 9, "sample": "#, true);
    let st = wait_for("status of invalid JSON", Duration::from_secs(10), || {
        let v: serde_json::Value = serde_json::from_str(&retained(broker.port, STATUS)?).ok()?;
        v["version"].is_null().then_some(v)
    });
    assert!(st["errors"][0].as_str().unwrap().contains("invalid JSON"), "{st}");
    publish(
        broker.port,
        CONFIG,
        r#"{"version": 3, "sample": {"interval": "200ms"}}"#,
        true,
    );
    let st = status_of(broker.port, 3, Duration::from_secs(10));
    assert!(
        st["errors"][0].as_str().unwrap().contains("older than version 8"),
        "{st}"
    );
    // The old behaviour continued through all of it.
    let rate = cycle_rate(&addr, Duration::from_secs(3));
    assert!(rate < 1.6, "rate {rate:.2}/s after rejections");
    assert_eq!(
        scrape(&addr, "outpost_config_remote_total{result=\"rejected\"}"),
        5.0
    );
    assert_eq!(scrape(&addr, "outpost_config_remote_version"), 5.0);

    // Restart with the broker down: the last known good (version 5) is used.
    broker.stop();
    agent.signal("TERM");
    assert_eq!(agent.wait_exit(Duration::from_secs(5)), Some(Some(0)));
    let agent2 = start_outpost(&cfg, port);
    assert_eq!(scrape(&addr, "outpost_config_remote_version"), 5.0);
    let rate = cycle_rate(&addr, Duration::from_secs(3));
    assert!(
        rate < 1.6,
        "rate {rate:.2}/s after a restart on the last known good"
    );
    assert_eq!(scrape(&addr, "outpost_mqtt_connected"), 0.0);
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    assert!(
        log.contains("starting on the last known good, remote config version 5"),
        "{log}"
    );

    // Rollback: version 10 points the uplink at a port nothing listens on; after the health
    // window (4 s) the agent goes back to version 5 and its broker, and says so.
    broker.start();
    wait_for("uplink connected again", Duration::from_secs(15), || {
        (scrape(&addr, "outpost_mqtt_connected") == 1.0).then_some(())
    });
    let dead = free_port();
    publish(
        broker.port,
        CONFIG,
        &format!(
            r#"{{"version": 10, "sample": {{"interval": "1s"}}, "mqtt": {{"url": "mqtt://127.0.0.1:{dead}"}}}}"#
        ),
        true,
    );
    let st = status_of(broker.port, 10, Duration::from_secs(20));
    assert_eq!(st["result"], "rolled_back", "{st}");
    let e = st["errors"][0].as_str().unwrap();
    assert!(
        e.contains("did not come back within 4s") && e.contains(&dead.to_string()),
        "{st}"
    );
    assert_eq!(st["active_version"], 5);
    assert_eq!(scrape(&addr, "outpost_config_remote_version"), 5.0);
    assert_eq!(scrape(&addr, "outpost_mqtt_connected"), 1.0);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/remote-config.json")).unwrap()).unwrap();
    assert_eq!(saved["applied"]["version"], 5, "{saved}");
    assert_eq!(saved["last_seen"], 10, "{saved}");
    // The retained version 10 is not tried again after a reconnect.
    drop(agent2);
    let _agent3 = start_outpost(&cfg, port);
    wait_for("uplink connected after restart", Duration::from_secs(15), || {
        (scrape(&addr, "outpost_mqtt_connected") == 1.0).then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(scrape(&addr, "outpost_config_remote_version"), 5.0);
    broker.stop();
}
