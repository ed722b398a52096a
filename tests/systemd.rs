//! systemd integration: the notify protocol over a real `NOTIFY_SOCKET` datagram socket, and
//! `systemd-analyze verify` of the shipped unit.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn recv(sock: &UnixDatagram) -> Option<String> {
    let mut buf = [0u8; 4096];
    sock.recv(&mut buf)
        .ok()
        .map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn notify_ready_watchdog_and_stopping() {
    let dir = TempDir::new("notify");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let started = Instant::now();
    let mut agent = Proc::spawn(
        "outpost",
        Command::new(outpost_bin())
            .args(["run", "--config"])
            .arg(&cfg)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", "400000"),
    );

    let first = recv(&sock).expect("no READY=1 within 10 s");
    assert!(first.lines().any(|l| l == "READY=1"), "first message {first:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "READY took {:?}",
        started.elapsed()
    );
    // READY means serving: /metrics answers at once, with a sample in it.
    let r = http_get(&format!("127.0.0.1:{port}"), "/metrics").expect("metrics after READY");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("node_cpu_seconds_total"));

    // WATCHDOG_USEC=0.4 s: a ping every 0.2 s.
    let t = Instant::now();
    let mut pings = 0;
    while pings < 5 {
        let msg = recv(&sock).expect("watchdog pings stopped");
        if msg.lines().any(|l| l == "WATCHDOG=1") {
            pings += 1;
        }
    }
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "5 pings took {:?}",
        t.elapsed()
    );

    agent.signal("TERM");
    let stop = Instant::now();
    let mut stopping = false;
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    while let Some(msg) = recv(&sock) {
        if msg.lines().any(|l| l == "STOPPING=1") {
            stopping = true;
            break;
        }
    }
    assert!(stopping, "no STOPPING=1 after SIGTERM");
    let code = agent.wait_exit(Duration::from_secs(2));
    assert_eq!(code, Some(Some(0)), "exit after SIGTERM");
    assert!(
        stop.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        stop.elapsed()
    );
}

#[test]
fn watchdog_for_another_pid_is_ignored() {
    // systemd sets WATCHDOG_PID; a child that inherited it must not ping for its parent.
    let dir = TempDir::new("notify-pid");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let port = free_port();
    let cfg = write_config(dir.path(), port, "");
    let _agent = Proc::spawn(
        "outpost",
        Command::new(outpost_bin())
            .args(["run", "--config"])
            .arg(&cfg)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", "200000")
            .env("WATCHDOG_PID", "1"),
    );
    let first = recv(&sock).expect("READY=1");
    assert!(first.contains("READY=1"));
    sock.set_read_timeout(Some(Duration::from_millis(800))).unwrap();
    while let Some(msg) = recv(&sock) {
        assert!(!msg.contains("WATCHDOG=1"), "pinged a watchdog meant for pid 1");
    }
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    let analyze = require(&["systemd-analyze"], "systemd");
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/outpost.service"))
        .expect("read unit");
    for directive in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "RestartPreventExitStatus=2 64",
        "User=outpost",
        "StateDirectory=outpost",
        "ProtectSystem=strict",
        "DevicePolicy=closed",
        "DeviceAllow=char-i2c rw",
        "DeviceAllow=char-gpiochip rw",
        "DeviceAllow=char-spi rw",
        "SupplementaryGroups=i2c gpio",
        "MemoryHigh=",
        "MemoryMax=",
        "NoNewPrivileges=yes",
    ] {
        assert!(
            unit.lines().any(|l| l.starts_with(directive)),
            "unit lacks {directive}"
        );
    }
    assert!(
        !unit.lines().any(|l| l.starts_with("PrivateDevices=yes")),
        "PrivateDevices would hide the sensor buses"
    );
    // The udev rules give those groups the sensor buses (docs/SENSORS.md, "Device access").
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/99-outpost-devices.rules"
    ))
    .expect("read udev rules");
    for rule in [
        r#"SUBSYSTEM=="i2c-dev", GROUP="i2c", MODE="0660""#,
        r#"SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660""#,
        r#"SUBSYSTEM=="spidev", GROUP="gpio", MODE="0660""#,
    ] {
        assert!(rules.lines().any(|l| l == rule), "udev rules lack {rule}");
    }
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = TempDir::new("unit");
    let path = dir.path().join("outpost.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/outpost", &outpost_bin().display().to_string()),
    )
    .unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{stderr}");
    assert!(
        !stderr.contains("outpost.service"),
        "warnings about the unit:\n{stderr}"
    );
}
