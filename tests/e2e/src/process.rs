//! The app's processes as the kernel sees them: which run, what they map, how much they hold.

use std::path::Path;

/// The pids and names of the processes running `exe` and of all their descendants (WebKit's
/// web and network processes), the app's first.
pub fn tree(exe: &Path) -> Vec<(u32, String)> {
    let exe = exe.canonicalize().expect("the app's path");
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let name = stat[stat.find('(').unwrap_or(0) + 1..stat.rfind(')').unwrap_or(0)].to_owned();
        let ppid: u32 = stat[stat.rfind(')').unwrap_or(0) + 2..]
            .split(' ')
            .nth(1)
            .and_then(|f| f.parse().ok())
            .unwrap_or(0);
        let is_app = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe);
        all.push((pid, ppid, name, is_app));
    }
    let mut tree: Vec<(u32, String)> = all
        .iter()
        .filter(|p| p.3)
        .map(|p| (p.0, p.2.clone()))
        .collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i].0;
        for p in all.iter().filter(|p| p.1 == parent) {
            if !tree.iter().any(|t| t.0 == p.0) {
                tree.push((p.0, p.2.clone()));
            }
        }
        i += 1;
    }
    tree
}

/// The files process `pid` has mapped (its shared libraries among them), each once.
pub fn mapped_files(pid: u32) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("the process's maps");
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.starts_with('/'))
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    files
}

/// (RSS, PSS) in MB of `pid`.
pub fn memory_mb(pid: u32) -> (f64, f64) {
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    (field(&status, "VmRSS:"), field(&rollup, "Pss:"))
}
