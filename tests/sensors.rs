//! Device sensors end to end with the real agent: a fake sysfs (DS18B20 probes — good, CRC
//! `NO`, the 85 °C power-on value — and an hwmon value) and the simulated I2C bus (the real
//! drivers against a test double of the bus) produce metrics on `/metrics`, in the store, and
//! in a real Prometheus through remote_write; `outpost sensors probe` says what it found and
//! what is wrong; every board profile validates with its sensors.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::prom::{fake_sys, Prometheus};
use common::*;

/// DS18B20 probes under `<sys>/bus/w1/devices`.
fn w1_probes(sys: &Path) {
    for (id, text) in [
        (
            "28-0316a2794dff",
            "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n",
        ),
        (
            "28-0316a2794e00",
            "72 01 4b 46 7f ff 0e 10 57 : crc=00 NO\n72 01 4b 46 7f ff 0e 10 57 t=23125\n",
        ),
        (
            "28-0316a2794e01",
            "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n",
        ),
    ] {
        let d = sys.join("bus/w1/devices").join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("w1_slave"), text).unwrap();
    }
}

const SENSORS: &str = r#"
[[sensor]]
name = "enclosure"
driver = "bme280"
bus = "sim"
address = "0x76"
interval = "500ms"
labels = { room = "cabinet" }

[[sensor]]
name = "soil"
driver = "ads1115"
bus = "sim"
address = "0x48"
interval = "500ms"
channels = [{ input = "1", gain = 4.096, quantity = "soil_moisture_percent", scale = 50.0 }]

[[sensor]]
name = "tank"
driver = "ds18b20"
id = "28-0316a2794dff"
interval = "500ms"

[[sensor]]
name = "noisy"
driver = "ds18b20"
id = "28-0316a2794e00"
interval = "500ms"

[[sensor]]
name = "unpowered"
driver = "ds18b20"
id = "28-0316a2794e01"
interval = "500ms"

[[sensor]]
name = "board"
driver = "hwmon"
path = "class/hwmon/hwmon0/temp1_input"
quantity = "temperature_celsius"
scale = 0.001
interval = "500ms"

[[sensor]]
name = "absent"
driver = "sht4x"
bus = "i2c-7"
address = "0x44"
interval = "500ms"
"#;

fn config(dir: &Path, port: u16, sys: &Path, extra: &str) -> PathBuf {
    let path = dir.join("outpost.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nid = \"gw-sens\"\ndata_dir = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [sample]\ninterval = \"1s\"\nsys_path = \"{}\"\ndev_path = \"{}\"\n\n[store]\ncommit_interval = \"200ms\"\n\n{SENSORS}\n{extra}\n",
            dir.join("data").display(),
            sys.display(),
            dir.join("dev").display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn sensors_reach_metrics_the_store_and_a_real_prometheus() {
    let dir = TempDir::new("sensors-e2e");
    let prom = Prometheus::new(dir.path(), "");
    let sys = fake_sys(dir.path());
    w1_probes(&sys);
    let port = free_port();
    let cfg = config(
        dir.path(),
        port,
        &sys,
        &format!(
            "[remote_write]\nurl = \"{}\"\nretry_min = \"100ms\"\nretry_max = \"1s\"\n",
            prom.write_url()
        ),
    );
    let _agent = start_outpost(&cfg, port);
    let addr = format!("127.0.0.1:{port}");
    let body = wait_for("sensor metrics on /metrics", Duration::from_secs(20), || {
        let b = http_get(&addr, "/metrics").ok()?.body;
        b.contains("outpost_sensor_read_errors_total{sensor=\"absent\"")
            .then_some(b)
    });
    let has = |series: &str| metric(&body, series);
    let t = has(r#"outpost_sensor_temperature_celsius{sensor="enclosure",driver="bme280",bus="sim",address="0x76",room="cabinet"}"#)
        .expect(&body);
    assert!((20.0..30.0).contains(&t), "{t}");
    assert!(has(r#"outpost_sensor_pressure_pascals{sensor="enclosure",driver="bme280",bus="sim",address="0x76",room="cabinet"}"#).is_some());
    let soil = has(r#"outpost_sensor_soil_moisture_percent{sensor="soil",driver="ads1115",bus="sim",address="0x48",channel="1"}"#).expect(&body);
    assert!((49.0..51.0).contains(&soil), "1.0 V × 50 = {soil}");
    assert_eq!(
        has(
            r#"outpost_sensor_temperature_celsius{sensor="tank",driver="ds18b20",bus="w1",id="28-0316a2794dff"}"#
        ),
        Some(23.125)
    );
    assert_eq!(
        has(r#"outpost_sensor_temperature_celsius{sensor="board",driver="sysfs",bus="sysfs"}"#),
        Some(42.0)
    );
    for (name, up) in [
        ("enclosure", 1.0),
        ("tank", 1.0),
        ("noisy", 0.0),
        ("unpowered", 0.0),
        ("absent", 0.0),
    ] {
        let line = body
            .lines()
            .find(|l| l.starts_with(&format!("outpost_sensor_up{{sensor=\"{name}\"")))
            .unwrap_or_else(|| panic!("no up series for {name}:\n{body}"));
        assert!(line.ends_with(&format!(" {up}")), "{line}");
    }
    for (name, reason) in [
        ("noisy", "crc"),
        ("unpowered", "power_on_value"),
        ("absent", "no_bus"),
    ] {
        assert!(
            body.lines().any(|l| l
                .starts_with(&format!("outpost_sensor_read_errors_total{{sensor=\"{name}\""))
                && l.contains(&format!("reason=\"{reason}\""))),
            "{name}: {reason}\n{body}"
        );
    }
    assert!(
        !body.contains("outpost_sensor_temperature_celsius{sensor=\"unpowered\""),
        "85 °C is never a reading"
    );
    // Through the store and remote_write into Prometheus (remote_write sends only what the
    // store holds), with the instance label host metrics get.
    let v = wait_for(
        "the BME280 reading in Prometheus",
        Duration::from_secs(30),
        || prom.value(r#"outpost_sensor_temperature_celsius{sensor="enclosure",instance="gw-sens"}"#),
    );
    assert!((20.0..30.0).contains(&v), "{v}");
    assert_eq!(
        prom.value(r#"outpost_sensor_up{sensor="noisy",instance="gw-sens"}"#),
        Some(0.0)
    );
    let log = std::fs::read_to_string(cfg.with_file_name("outpost.log")).unwrap_or_default();
    assert!(log.contains("sensor noisy: checksum mismatch"), "{log}");
    assert_eq!(
        log.matches("sensor noisy:").count(),
        1,
        "logged once per episode:\n{log}"
    );
}

#[test]
fn probe_says_what_it_found_and_what_is_wrong() {
    let dir = TempDir::new("sensors-probe");
    let sys = fake_sys(dir.path());
    w1_probes(&sys);
    let cfg = config(dir.path(), free_port(), &sys, "");
    let out = Command::new(outpost_bin())
        .args(["sensors", "probe", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "not every sensor answered:\n{text}");
    for want in [
        "bus sim: devices at 0x44 0x45 0x48 0x76 0x77",
        "bus i2c-7: cannot open",
        "ok    enclosure (bme280 on sim at 0x76): temperature_celsius = ",
        "ok    tank (ds18b20 on w1 28-0316a2794dff): temperature_celsius = 23.125",
        "FAIL  noisy (ds18b20 on w1 28-0316a2794e00): checksum mismatch",
        "FAIL  unpowered (ds18b20 on w1 28-0316a2794e01): 85 °C power-on value",
        "FAIL  absent (sht4x on i2c-7 at 0x44): cannot open",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }
    let out = Command::new(outpost_bin())
        .args(["sensors", "probe", "--bus", "sim", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn board_profiles_validate_with_their_sensors_and_a_bad_one_says_where() {
    let out = Command::new(outpost_bin())
        .args(["check-config", "--config", "/dev/null", "--board", "rpi4-env"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for s in [
        "enclosure (bme280 on i2c-1 at 0x76",
        "soil (ads1115",
        "rain (pulse on gpiochip0 line 17",
    ] {
        assert!(text.contains(s), "{s} in {text}");
    }
    let dir = TempDir::new("sensors-board");
    let board = dir.path().join("myboard.toml");
    std::fs::write(
        &board,
        "name = \"myboard\"\n[[sensors]]\nname = \"x\"\ndriver = \"thermistor\"\n[[sensors]]\nname = \"y\"\ndriver = \"sht3x\"\nbus = \"i2c-1\"\naddress = \"0x76\"\n",
    )
    .unwrap();
    let out = Command::new(outpost_bin())
        .args(["check-config", "--config", "/dev/null", "--board"])
        .arg(&board)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("board.sensors[0].driver: \"thermistor\" is not a driver"),
        "{err}"
    );
    assert!(
        err.contains("board.sensors[1].address: 0x76: a sht3x answers at 0x44 or 0x45"),
        "{err}"
    );
}
