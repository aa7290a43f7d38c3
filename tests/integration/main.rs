//! Every integration test, in one binary (one link instead of one per file, as ripgrep's
//! `tests/tests.rs`): one module per area, sharing `tests/support`.
//!
//! Most tests run against the live servers in `MYTRIAGE_TEST_SERVERS` and share them, so some
//! must not run beside others. They say so by where they live, and `.config/nextest.toml` reads
//! the module path: tests in a module `exclusive` run alone (they judge or change the whole
//! server), tests in a module `deadlock` run one at a time (InnoDB keeps only the latest
//! deadlock). Run the suite with `cargo nextest run`; plain `cargo test` runs every test of this
//! binary in parallel threads, exclusive ones included.

#[path = "../support/mod.rs"]
mod support;

mod action;
mod cli;
mod fuzz_parser;
mod live_console;
mod live_culprit;
mod live_explain;
pub mod live_exporter;
mod live_full;
mod live_hostile;
mod live_hung;
mod live_kill;
mod live_login_path;
mod live_notify;
mod live_probes;
mod live_prometheus;
mod live_redact;
mod live_replication;
mod live_round_trips;
mod live_slow;
mod live_top;
mod live_workflow;
mod pictures;
mod readme_shapes;
mod scenarios;
