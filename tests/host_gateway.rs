//! The collectors outpost adds for gateways, on a fake `/sys` and `/proc` written here: an
//! eMMC with wear figures beside an SD card, `/proc/net/wireless` with two interfaces, and the
//! clock quality series.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn emmc_wear_wifi_link_and_clock_quality() {
    let dir = TempDir::new("host-gateway");
    let (sys, proc) = (dir.path().join("sys"), dir.path().join("proc"));
    let write = |p: std::path::PathBuf, s: &str| {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    };
    let emmc = sys.join("block/mmcblk0/device");
    write(emmc.join("type"), "MMC\n");
    write(emmc.join("name"), "8GTF4R\n");
    write(emmc.join("serial"), "0x1c2b3a49\n");
    write(emmc.join("manfid"), "0x000015\n");
    write(emmc.join("date"), "03/2019\n");
    write(emmc.join("life_time"), "0x02 0x0b\n");
    write(emmc.join("pre_eol_info"), "0x02\n");
    // The same card's boot partition: not a second device.
    write(sys.join("block/mmcblk0boot0/device/type"), "MMC\n");
    // An SD card: no wear figures.
    let sd = sys.join("block/mmcblk1/device");
    write(sd.join("type"), "SD\n");
    write(sd.join("name"), "SC32G\n");
    write(
        proc.join("net/wireless"),
        "Inter-| sta-|   Quality        |   Discarded packets               | Missed | WE\n \
         face | tus | link level noise |  nwid  crypt   frag  retry   misc | beacon | 22\n \
         wlan0: 0000   58.  -52.  -256        0      0      0     12      3        7\n  \
         wlp2s0: 0000   70.  190.  -92.        1      2      0      0      0        0\n",
    );
    write(proc.join("loadavg"), "0.50 0.40 0.30 1/100 42\n");
    // A gateway script's textfile, one family clashing with a host metric.
    let tf = dir.path().join("textfile");
    write(
        tf.join("modem.prom"),
        "# HELP modem_signal_dbm LTE signal.\n# TYPE modem_signal_dbm gauge\nmodem_signal_dbm{apn=\"iot\"} -71\nnode_load1 99\n",
    );
    write(
        proc.join("sys/kernel/random/boot_id"),
        "8c2e4f6a-1b3d-4e5f-9a8b-7c6d5e4f3a2b\n",
    );
    let port = free_port();
    let cfg = write_config(
        dir.path(),
        port,
        &format!(
            "[sample]\ninterval = \"1h\"\ncollectors = [\"mmc\", \"wireless\", \"timex\", \"loadavg\", \"textfile\"]\n\
             proc_path = \"{}\"\nsys_path = \"{}\"\n[sample.textfile]\ndirectory = \"{}\"\n",
            proc.display(),
            sys.display(),
            tf.display()
        ),
    );
    let _agent = start_outpost(&cfg, port);
    let body = wait_for("the first sample", Duration::from_secs(20), || {
        let b = http_get(&format!("127.0.0.1:{port}"), "/metrics").ok()?.body;
        b.contains("outpost_mmc_info").then_some(b)
    });
    let want = [
        ("outpost_mmc_life_time_used_ratio{device=\"mmcblk0\",type=\"a\"}", 0.2),
        ("outpost_mmc_life_time_used_ratio{device=\"mmcblk0\",type=\"b\"}", 1.1),
        ("outpost_mmc_pre_eol_info{device=\"mmcblk0\"}", 2.0),
        (
            "outpost_mmc_info{date=\"03/2019\",device=\"mmcblk0\",manfid=\"0x000015\",name=\"8GTF4R\",oemid=\"\",serial=\"0x1c2b3a49\",type=\"MMC\"}",
            1.0,
        ),
        (
            "outpost_mmc_info{date=\"\",device=\"mmcblk1\",manfid=\"\",name=\"SC32G\",oemid=\"\",serial=\"\",type=\"SD\"}",
            1.0,
        ),
        ("outpost_wireless_link_quality{device=\"wlan0\"}", 58.0),
        ("outpost_wireless_signal_dbm{device=\"wlan0\"}", -52.0),
        ("outpost_wireless_signal_dbm{device=\"wlp2s0\"}", -66.0),
        ("outpost_wireless_noise_dbm{device=\"wlp2s0\"}", -92.0),
        ("outpost_wireless_discarded_packets_total{device=\"wlan0\",reason=\"retry\"}", 12.0),
        ("outpost_wireless_discarded_packets_total{device=\"wlp2s0\",reason=\"crypt\"}", 2.0),
        ("outpost_wireless_missed_beacons_total{device=\"wlan0\"}", 7.0),
        (
            "outpost_boot_info{boot_id=\"8c2e4f6a-1b3d-4e5f-9a8b-7c6d5e4f3a2b\"}",
            1.0,
        ),
        ("node_scrape_collector_success{collector=\"mmc\"}", 1.0),
        ("node_scrape_collector_success{collector=\"wireless\"}", 1.0),
        ("node_scrape_collector_success{collector=\"timex\"}", 1.0),
        // The textfile's own series join the host's; its node_load1 does not replace the host's.
        ("modem_signal_dbm{apn=\"iot\"}", -71.0),
        ("node_load1", 0.5),
        ("node_textfile_scrape_error", 0.0),
    ];
    for (series, v) in want {
        assert_eq!(metric(&body, series), Some(v), "{series} in:\n{body}");
    }
    assert!(!body.contains("mmcblk0boot0"), "{body}");
    assert!(!body.contains("outpost_mmc_life_time_used_ratio{device=\"mmcblk1\""));
    assert!(
        !body.contains("outpost_wireless_noise_dbm{device=\"wlan0\"}"),
        "-256 means no noise figure"
    );
    assert_eq!(body.matches("\nnode_load1 ").count(), 1, "{body}");
    let log = std::fs::read_to_string(dir.path().join("outpost.log")).unwrap();
    assert!(log.contains("textfile: node_load1 is already reported"), "{log}");
    // The clock: synchronised or not, and how far off it may be.
    let sync = metric(&body, "node_timex_sync_status").expect("node_timex_sync_status");
    assert!(sync == 0.0 || sync == 1.0);
    assert!(metric(&body, "node_timex_estimated_error_seconds").is_some_and(|e| e >= 0.0));
}
