//! CPU per sensor read, per driver, on the simulated bus (the drivers' register traffic,
//! CRC checks and datasheet compensation, with the waits for the conversion taken out), the
//! DS18B20 text parse, and the sampler's own work per reading (state update and rendering as
//! metric families) — each against one host sampling cycle (node_exporter's collectors on
//! this machine's /proc and /sys) measured in the same run. Median of 7 runs of each.
//! Run: scripts/bench-sensors.sh

use std::hint::black_box;
use std::time::Instant;

use embedded_hal::delay::DelayNs;
use outpost::config::{parse_toml, Origin};
use outpost::sources::host::HostSampler;
use outpost::sources::sensors::drivers::{ads1115, bme280, sht, w1};
use outpost::sources::sensors::sim::SimI2c;
use outpost::sources::sensors::state::{SensorState, Series};
use outpost::telemetry::Report;

/// The conversion waits are the sensor's time, not the agent's CPU: left out.
struct NoWait;
impl DelayNs for NoWait {
    fn delay_ns(&mut self, _: u32) {}
}

fn median_ns(n: u32, mut f: impl FnMut()) -> f64 {
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[3]
}

fn main() {
    let cfg = parse_toml("[agent]\nid = \"bench\"\n", Origin::Embedded, None).expect("config");
    let mut host = HostSampler::new(&cfg.sample);
    let _ = host.sample();
    let cycle = median_ns(20, || {
        black_box(host.sample());
    });
    let mut bus = SimI2c::default();
    let os = bme280::Oversampling::default();
    let cal = *bme280::Bme280::init(
        bme280::I2cRegs {
            i2c: &mut bus,
            address: 0x76,
        },
        os,
    )
    .expect("sim bme280")
    .calibration();
    let bme = median_ns(20_000, || {
        let mut d = bme280::Bme280::with_calibration(
            bme280::I2cRegs {
                i2c: &mut bus,
                address: 0x76,
            },
            cal,
            os,
        );
        black_box(d.read(&mut NoWait).expect("read"));
    });
    let sht3 = median_ns(20_000, || {
        let mut d = sht::Sht::attach(&mut bus, 0x44, sht::Model::Sht3x);
        black_box(d.read(&mut NoWait).expect("read"));
    });
    let sht4 = median_ns(20_000, || {
        let mut d = sht::Sht::attach(&mut bus, 0x44, sht::Model::Sht4x);
        black_box(d.read(&mut NoWait).expect("read"));
    });
    let ads = median_ns(20_000, || {
        let mut d = ads1115::Ads1115::new(&mut bus, 0x48);
        black_box(
            d.read(ads1115::Input::Single(0), 1, 4, &mut NoWait)
                .expect("read"),
        );
    });
    let text = "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n";
    let w1p = median_ns(200_000, || {
        black_box(w1::parse(black_box(text)).expect("parse"));
    });
    // The sampler's work per reading: the state update of 10 sensors, and the families they
    // render into at each snapshot, per sensor.
    let sensors = parse_toml(
        &(0..10)
            .map(|i| {
                format!(
                    "[[sensor]]\nname = \"s{i}\"\ndriver = \"bme280\"\nbus = \"sim\"\naddress = \"0x76\"\n"
                )
            })
            .collect::<String>(),
        Origin::Embedded,
        None,
    )
    .expect("sensors")
    .sensors;
    let state = SensorState::new(&sensors);
    let mut k = 0.0;
    let update = median_ns(20_000, || {
        k += 0.01;
        for i in 0..10 {
            black_box(state.ok(
                i,
                vec![
                    Series {
                        quantity: "temperature_celsius".into(),
                        extra: None,
                        value: 20.0 + k,
                        counter: false,
                    },
                    Series {
                        quantity: "pressure_pascals".into(),
                        extra: None,
                        value: 100_000.0 + k,
                        counter: false,
                    },
                    Series {
                        quantity: "humidity_percent".into(),
                        extra: None,
                        value: 40.0 + k,
                        counter: false,
                    },
                ],
            ));
        }
    }) / 10.0;
    let report = median_ns(2_000, || {
        let mut out = Vec::new();
        state.report(&mut out);
        black_box(out);
    }) / 10.0;
    let row = |name: &str, ns: f64| {
        println!(
            "{name:<58} {:>10.2} µs  {:>8.4} % of a host cycle",
            ns / 1e3,
            ns / cycle * 100.0
        );
    };
    println!(
        "host sampling cycle (reference)                            {:>10.2} µs",
        cycle / 1e3
    );
    row("bme280 read (forced mode, compensation; sim bus, no waits)", bme);
    row("sht3x read (CRC-checked words; sim bus, no waits)", sht3);
    row("sht4x read", sht4);
    row("ads1115 read (one single-shot conversion)", ads);
    row("ds18b20 w1_slave parse", w1p);
    row("sampler: state update per reading (3 quantities)", update);
    row("sampler: metric families per sensor per snapshot", report);
}
