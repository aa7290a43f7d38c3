//! What the benchmarks say about the machine they ran on (shared through `#[path]`).

/// The CPU count and model, from `/proc/cpuinfo`.
pub(crate) fn cpus() -> (usize, String) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU".to_owned(), |(_, model)| {
            model.trim().to_owned()
        });
    (
        std::thread::available_parallelism().map_or(0, usize::from),
        model,
    )
}

/// The kernel's release.
pub(crate) fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned()
}
