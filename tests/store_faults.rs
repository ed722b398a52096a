//! Fault injection with real files and real filesystems: the store's file damaged between
//! runs, the filesystem full, the data directory read-only. In every case the agent keeps
//! sampling and serving, reports what is wrong, and resumes storing when it can.
//!
//! The full and read-only filesystems are small tmpfs mounts in a private mount namespace
//! (`unshare --mount`; as root, or with unprivileged user namespaces via `--map-root-user`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn sum_metric(body: &str, prefix: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn scrape(addr: &str) -> String {
    http_get(addr, "/metrics").expect("agent must keep serving").body
}

fn damage(path: &Path, how: &str, seed: u64) {
    let mut bytes = std::fs::read(path).expect("store file");
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    match how {
        "truncate" => {
            let at = (next() as usize) % bytes.len();
            bytes.truncate(at);
        }
        "flip" => {
            for _ in 0..32 {
                let i = (next() as usize) % bytes.len();
                bytes[i] ^= 1 << (next() % 8);
            }
        }
        _ => bytes.iter_mut().for_each(|b| *b = next() as u8),
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damaged_store_files_never_stop_the_agent() {
    // OUTPOST_DAMAGE_SEED replays a failed run.
    let seed = std::env::var("OUTPOST_DAMAGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("damage seed {seed}");
    for (i, how) in ["truncate", "flip", "garbage", "truncate", "flip"]
        .iter()
        .enumerate()
    {
        let dir = TempDir::new("damage");
        let port = free_port();
        let cfg = write_config(
            dir.path(),
            port,
            "[sample]\ninterval = \"100ms\"\n\n[store]\ncommit_interval = \"100ms\"\n",
        );
        let addr = format!("127.0.0.1:{port}");
        let mut agent = start_outpost(&cfg, port);
        wait_for("records durable", Duration::from_secs(10), || {
            (metric(&scrape(&addr), "outpost_store_durable_sequence")? >= 5.0).then_some(())
        });
        agent.signal("TERM");
        assert_eq!(agent.wait_exit(Duration::from_secs(3)), Some(Some(0)));
        damage(
            &dir.path().join("data/store.redb"),
            how,
            seed.wrapping_add(i as u64),
        );

        let _agent = start_outpost(&cfg, port);
        let body = wait_for("store healthy after damage", Duration::from_secs(15), || {
            let b = scrape(&addr);
            (metric(&b, "outpost_store_healthy")? == 1.0).then_some(b)
        });
        let recovered = sum_metric(&body, "outpost_store_recoveries_total");
        eprintln!("{how}: recoveries {recovered}");
        // It keeps storing after the damage.
        let d0 = metric(&body, "outpost_store_durable_sequence").unwrap();
        wait_for("new records durable", Duration::from_secs(10), || {
            (metric(&scrape(&addr), "outpost_store_durable_sequence")? > d0).then_some(())
        });
        // And the operator tool reads the store of the running agent.
        let out = Command::new(outpost_bin())
            .args(["store", "stats", "--config"])
            .arg(&cfg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("outpost_store_healthy 1"));
    }
}

/// Runs the agent inside a private mount namespace with its data directory on a small tmpfs,
/// driven through control files: the test writes `CTL/<cmd>`, the script runs it and writes
/// `CTL/<cmd>.done`.
struct Sandbox {
    _proc: Proc,
    ctl: PathBuf,
}

impl Sandbox {
    fn start(dir: &Path, cfg: &Path, size: &str, read_only: bool) -> Sandbox {
        let unshare = require(&["unshare"], "util-linux");
        let ctl = dir.join("ctl");
        std::fs::create_dir_all(&ctl).unwrap();
        let mnt = dir.join("data");
        std::fs::create_dir_all(&mnt).unwrap();
        let script = format!(
            r#"set -u
mount -t tmpfs -o size={size} tmpfs "{mnt}" || {{ echo "cannot mount tmpfs" > "{ctl}/failed"; exit 1; }}
{ro}
"{bin}" run --config "{cfg}" 2>>"{log}" &
PID=$!
echo started > "{ctl}/started"
while :; do
  for cmd in fill unfill rw stop; do
    if [ -f "{ctl}/$cmd" ]; then
      rm -f "{ctl}/$cmd"
      case $cmd in
        fill) dd if=/dev/zero of="{mnt}/filler" bs=16k 2>/dev/null; true ;;
        unfill) rm -f "{mnt}/filler" ;;
        rw) mount -o remount,rw "{mnt}" ;;
        stop) kill -TERM $PID; wait $PID; echo $? > "{ctl}/exited"; exit 0 ;;
      esac
      touch "{ctl}/$cmd.done"
    fi
  done
  kill -0 $PID 2>/dev/null || {{ echo died > "{ctl}/exited"; exit 1; }}
  sleep 0.05
done
"#,
            mnt = mnt.display(),
            ctl = ctl.display(),
            bin = outpost_bin().display(),
            cfg = cfg.display(),
            log = dir.join("outpost.log").display(),
            ro = if read_only {
                format!("mount -o remount,ro \"{}\"", mnt.display())
            } else {
                String::new()
            },
        );
        let mut cmd = Command::new(unshare);
        // SAFETY of the test: only the namespace created here sees the tmpfs.
        let is_root = unsafe { libc::geteuid() } == 0;
        if !is_root {
            cmd.arg("--map-root-user");
        }
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::null());
        let proc = Proc::spawn("unshare sandbox", &mut cmd);
        wait_for("sandbox start", Duration::from_secs(10), || {
            if ctl.join("failed").exists() {
                panic!(
                    "this test needs to mount a tmpfs in a private mount namespace: run as root, \
                     or enable unprivileged user namespaces (unshare --mount --map-root-user)"
                );
            }
            ctl.join("started").exists().then_some(())
        });
        Sandbox { _proc: proc, ctl }
    }

    fn run(&self, cmd: &str) {
        std::fs::write(self.ctl.join(cmd), "").unwrap();
        wait_for(&format!("sandbox command {cmd}"), Duration::from_secs(20), || {
            self.ctl.join(format!("{cmd}.done")).exists().then_some(())
        });
        let _ = std::fs::remove_file(self.ctl.join(format!("{cmd}.done")));
    }

    fn stop(&self) -> String {
        std::fs::write(self.ctl.join("stop"), "").unwrap();
        wait_for("agent exit", Duration::from_secs(10), || {
            std::fs::read_to_string(self.ctl.join("exited")).ok()
        })
    }
}

#[test]
fn a_full_filesystem_is_survived_and_reported() {
    let dir = TempDir::new("full");
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        port,
        "[sample]\ninterval = \"100ms\"\n\n[store]\ncommit_interval = \"100ms\"\nmin_free_disk = \"256KiB\"\n",
    );
    let sandbox = Sandbox::start(dir.path(), &cfg, "6m", false);
    let addr = format!("127.0.0.1:{port}");
    wait_for("agent up", Duration::from_secs(15), || {
        let b = http_get(&addr, "/metrics").ok()?.body;
        (metric(&b, "outpost_store_durable_sequence")? >= 5.0).then_some(())
    });
    sandbox.run("fill");
    // Full disk: the agent keeps sampling and serving and says what it does about it.
    let body = wait_for("full disk reported", Duration::from_secs(20), || {
        let b = scrape(&addr);
        let dropped = sum_metric(
            &b,
            "outpost_store_dropped_records_total{class=\"metrics\",reason=\"disk_full\"}",
        );
        let errors = metric(&b, "outpost_store_write_errors_total").unwrap_or(0.0);
        (dropped > 0.0 || errors > 0.0).then_some(b)
    });
    let cycles0 = metric(&body, "outpost_sample_cycles_total").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let cycles1 = metric(&scrape(&addr), "outpost_sample_cycles_total").unwrap();
    assert!(cycles1 >= cycles0 + 5.0, "sampling stalled on a full disk");
    if std::env::var_os("OUTPOST_TEST_SHOW_LOG").is_some() {
        eprintln!(
            "{}",
            std::fs::read_to_string(dir.path().join("outpost.log")).unwrap_or_default()
        );
    }
    sandbox.run("unfill");
    let d0 = metric(&scrape(&addr), "outpost_store_durable_sequence").unwrap();
    wait_for(
        "storing again after space came back",
        Duration::from_secs(90),
        || {
            let b = scrape(&addr);
            (metric(&b, "outpost_store_healthy")? == 1.0
                && metric(&b, "outpost_store_durable_sequence")? > d0 + 5.0)
                .then_some(())
        },
    );
    assert_eq!(sandbox.stop().trim(), "0");
}

#[test]
fn a_read_only_data_directory_is_survived_and_storing_resumes() {
    let dir = TempDir::new("ro");
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        port,
        "[sample]\ninterval = \"100ms\"\n\n[store]\ncommit_interval = \"100ms\"\nmin_free_disk = \"0B\"\n",
    );
    let sandbox = Sandbox::start(dir.path(), &cfg, "16m", true);
    let addr = format!("127.0.0.1:{port}");
    // Up and serving, store unavailable.
    let body = wait_for(
        "agent serving on a read-only disk",
        Duration::from_secs(15),
        || {
            let b = http_get(&addr, "/metrics").ok().filter(|r| r.status == 200)?.body;
            (metric(&b, "outpost_sample_cycles_total")? >= 5.0).then_some(b)
        },
    );
    assert_eq!(
        metric(&body, "outpost_store_healthy"),
        Some(0.0),
        "store must report unavailable"
    );
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap_or_default();
    assert!(
        log.contains("Read-only file system"),
        "the log must say why:\n{log}"
    );
    std::thread::sleep(Duration::from_secs(1));
    let appended = metric(
        &scrape(&addr),
        "outpost_store_appended_records_total{class=\"metrics\"}",
    )
    .unwrap_or(0.0);
    sandbox.run("rw");
    // Storing resumes, and what was sampled meanwhile (within the memory bound) is kept.
    wait_for(
        "store available after remount rw",
        Duration::from_secs(90),
        || {
            let b = scrape(&addr);
            (metric(&b, "outpost_store_healthy")? == 1.0
                && metric(&b, "outpost_store_durable_sequence")? >= appended)
                .then_some(())
        },
    );
    let b = scrape(&addr);
    assert_eq!(
        sum_metric(&b, "outpost_store_dropped_records_total"),
        0.0,
        "records dropped:\n{b}"
    );
    assert_eq!(sandbox.stop().trim(), "0");
}
