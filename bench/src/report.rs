//! Reads criterion's results and prints the weir/peer ratio table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cases::{Case, PAIRS};

/// Where criterion writes its results: `$CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else the workspace's `target/criterion`.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

/// The median time of one iteration of `case`, in ns, from
/// `<dir>/<group>/<name>/new/estimates.json`; `None` if it has not run.
pub fn median_ns_per_iter(dir: &Path, case: &Case) -> Option<f64> {
    let path = dir
        .join(case.group)
        .join(case.name)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    parse_median(&text)
}

/// The `median.point_estimate` of a criterion `estimates.json` text.
pub fn parse_median(text: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("median")?.get("point_estimate")?.as_f64()
}

/// The fastest sample of `case` (least time per iteration over criterion's
/// samples, from `sample.json`), in ns per iteration: the figure least
/// disturbed by other load on a shared machine.
pub fn fastest_ns_per_iter(dir: &Path, case: &Case) -> Option<f64> {
    let path = dir.join(case.group).join(case.name).join("new/sample.json");
    let text = std::fs::read_to_string(path).ok()?;
    parse_fastest(&text)
}

/// The least `times[i] / iters[i]` of a criterion `sample.json` text.
pub fn parse_fastest(text: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let iters = v.get("iters")?.as_array()?;
    let times = v.get("times")?.as_array()?;
    iters
        .iter()
        .zip(times)
        .filter_map(|(n, t)| Some(t.as_f64()? / n.as_f64()?))
        .min_by(f64::total_cmp)
}

/// ns per operation of `case`, if it has run.
pub fn ns_per_op(dir: &Path, case: &Case) -> Option<f64> {
    median_ns_per_iter(dir, case).map(|ns| ns / case.ops_per_iter as f64)
}

/// The ratio table as Markdown (pairs not yet measured are skipped).
pub fn ratio_table(dir: &Path) -> String {
    let mut out = String::new();
    out.push_str(
        "| weir | ns/op | peer | ns/op | weir/peer | weir/peer, fastest samples | target | met |\n",
    );
    out.push_str("|---|---:|---|---:|---:|---:|---|---|\n");
    for pair in PAIRS {
        let (Some(w), Some(p)) = (ns_per_op(dir, &pair.weir), ns_per_op(dir, &pair.peer)) else {
            continue;
        };
        let ratio = w / p;
        let fastest = match (
            fastest_ns_per_iter(dir, &pair.weir),
            fastest_ns_per_iter(dir, &pair.peer),
        ) {
            (Some(fw), Some(fp)) => {
                let (fw, fp) = (
                    fw / pair.weir.ops_per_iter as f64,
                    fp / pair.peer.ops_per_iter as f64,
                );
                format!("{:.2}× ({fw:.1} / {fp:.1})", fw / fp)
            }
            _ => "—".to_string(),
        };
        let mut target = Vec::new();
        let mut met = true;
        if let Some(t) = pair.target_ratio {
            target.push(format!("≤ {t:.1}×"));
            met &= ratio <= t;
        }
        if let Some(t) = pair.target_ns {
            target.push(format!("≤ {t:.0} ns"));
            met &= w <= t;
        }
        let (target, met) = if target.is_empty() {
            ("—".to_string(), "—")
        } else {
            (target.join(", "), if met { "yes" } else { "**no**" })
        };
        let _ = writeln!(
            out,
            "| {} | {w:.1} | {} | {p:.1} | {ratio:.2}× | {fastest} | {target} | {met} |",
            pair.weir.id(),
            pair.peer.id(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_criterion_median() {
        let json = r#"{"mean":{"point_estimate":12.5},"median":{"point_estimate":11.25}}"#;
        assert_eq!(parse_median(json), Some(11.25));
        assert_eq!(parse_median("{}"), None);
    }

    #[test]
    fn fastest_sample_is_least_time_per_iteration() {
        let json =
            r#"{"sampling_mode":"Linear","iters":[10.0,20.0,30.0],"times":[150.0,200.0,450.0]}"#;
        assert_eq!(parse_fastest(json), Some(10.0));
        assert_eq!(parse_fastest(r#"{"iters":[],"times":[]}"#), None);
    }

    #[test]
    fn ratio_table_divides_per_op_and_flags_missed_targets() {
        let dir = std::env::temp_dir().join(format!("weir-bench-report-{}", std::process::id()));
        let write = |case: &Case, ns: f64| {
            let d = dir.join(case.group).join(case.name).join("new");
            std::fs::create_dir_all(&d).unwrap();
            let json = format!(r#"{{"median":{{"point_estimate":{ns}}}}}"#);
            std::fs::write(d.join("estimates.json"), json).unwrap();
        };
        use crate::cases::*;
        write(&WEIR_LAC, 300_000.0); // 30 ns/item
        write(&FUTURES_BU, 400_000.0); // 40 ns/item: 0.75x, misses 0.7x
        write(&WEIR_SEM_U64, 20.0);
        write(&GOV_KEYED_U64, 40.0);
        let table = ratio_table(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            table.contains("| as_completed_ready/weir_limited_as_completed | 30.0 |"),
            "{table}"
        );
        assert!(table.contains("| 0.75× | — | ≤ 0.7× | **no** |"), "{table}");
        assert!(
            table.contains("| 0.50× | — | ≤ 1.0×, ≤ 40 ns | yes |"),
            "{table}"
        );
        // Pairs with a side not measured are left out.
        assert!(!table.contains("futures_buffered"), "{table}");
    }
}
