//! `mytriage history`: the InnoDB history list length (purge lag), its growth, the sessions that
//! really hold purge back (see [`purge`]), and the oldest open transaction.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::connect::Session;
use crate::innodb_status;
use crate::probe::purge::{self, PurgeBlocker};
use crate::probe::{deadlocks, processlist};
use crate::render::{Block, Report, View, ViewOptions, account, now_or_last, serde_label};
use crate::verdict::Verdict;

/// The oldest open transaction (which need not be what holds purge back).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OldestTrx {
    pub pid: u64,
    pub user: Option<String>,
    pub host: Option<String>,
    pub trx_id: String,
    pub age_s: u64,
    pub idle_in_trx: bool,
    pub statement: Option<String>,
    pub last_statement: Option<String>,
}

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sample {
    pub elapsed_s: f64,
    pub history_list_length: u64,
}

/// What `history` reports.
#[derive(Debug, Serialize)]
pub(crate) struct HistoryReport {
    pub history_list_length: u64,
    /// `information_schema.INNODB_METRICS` or `SHOW ENGINE INNODB STATUS`.
    pub source: HllSource,
    pub verdict: Verdict,
    pub warn: u64,
    pub crit: u64,
    /// Growth per second over the samples (`--sample N --interval S`), when more than one.
    pub growth_per_s: Option<f64>,
    pub samples: Vec<Sample>,
    /// The sessions holding purge back, oldest first.
    pub purge_blockers: Vec<PurgeBlocker>,
    /// `Purge done for trx's n:o < N` from the InnoDB status, where it was read.
    pub purge_done_below: Option<u64>,
    pub oldest_trx: Option<OldestTrx>,
}

/// Where the history list length was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum HllSource {
    #[serde(rename = "information_schema.INNODB_METRICS")]
    InnodbMetrics,
    /// The fallback when the `trx_rseg_history_len` counter is disabled.
    #[serde(rename = "SHOW ENGINE INNODB STATUS")]
    InnodbStatus,
}

/// The history list length now, and where it came from.
pub(crate) async fn history_list_length(session: &mut Session) -> Result<(u64, HllSource)> {
    history_list_length_with(session, None).await
}

/// As [`history_list_length`], falling back to an InnoDB status text already read, if any.
pub(crate) async fn history_list_length_with(
    session: &mut Session,
    innodb_status_text: Option<&str>,
) -> Result<(u64, HllSource)> {
    let sql = session.server.flavor.history_list_length_query();
    let rows: Vec<(u64, bool)> = session
        .db
        .query("reading the history list length", sql)
        .await?;
    if let Some((hll, true)) = rows.first() {
        return Ok((*hll, HllSource::InnodbMetrics));
    }
    let status = match innodb_status_text {
        Some(text) => text.to_owned(),
        None => deadlocks::innodb_status(session).await?,
    };
    let hll = innodb_status::history_list_length(&status)
        .context("no 'History list length' in SHOW ENGINE INNODB STATUS")?;
    Ok((hll, HllSource::InnodbStatus))
}

/// As [`oldest_trx`], on a thread snapshot and last statements already read.
pub(crate) fn oldest_trx_from(
    threads: &[processlist::Thread],
    last: Option<&HashMap<u64, String>>,
) -> Option<OldestTrx> {
    let oldest = threads
        .iter()
        .filter(|t| t.trx.is_some())
        .min_by(|a, b| processlist::oldest_first(a, b))?;
    let trx = oldest.trx.as_ref()?;
    Some(OldestTrx {
        pid: oldest.pid,
        user: oldest.user.clone(),
        host: oldest.host.clone(),
        trx_id: trx.id.clone(),
        age_s: trx.age_s,
        idle_in_trx: oldest.idle_in_trx,
        statement: oldest.statement.clone(),
        last_statement: match oldest.statement {
            Some(_) => None,
            None => last.and_then(|m| m.get(&oldest.pid).cloned()),
        },
    })
}

/// What the last (or only) sample of `history` reads, in one batch: the length, the threads and
/// last statements, and on MariaDB the InnoDB status with its read views.
pub(crate) fn last_sample(server: &crate::server::ServerInfo) -> Vec<&'static str> {
    let mut ahead = vec![server.flavor.history_list_length_query()];
    ahead.extend(processlist::statements(server));
    if server.flavor.is_mariadb() {
        ahead.push(crate::queries::INNODB_STATUS);
    }
    ahead
}

/// How `history` samples and judges the history list length.
#[derive(Debug, Clone)]
pub(crate) struct Sampling {
    /// How many samples; their growth is the purge lag's trend.
    pub samples: u32,
    pub interval: Duration,
    pub warn: u64,
    pub crit: u64,
}

/// Samples the history list length and names the oldest transaction.
pub(crate) async fn collect(session: &mut Session, args: &Sampling) -> Result<HistoryReport> {
    session.require_process("reading the history list length")?;
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut source = HllSource::InnodbMetrics;
    // MariaDB prints every read view in the InnoDB status; MySQL prints none, so it is read only
    // on MariaDB. The last sample reads it, the threads and last statements in the same round trip.
    let mariadb = session.server.flavor.is_mariadb();
    for index in 0..args.samples {
        if index > 0 {
            tokio::time::sleep(args.interval).await;
        }
        if index + 1 == args.samples {
            let ahead = last_sample(&session.server);
            session.db.prefetch("reading the history", &ahead).await?;
        }
        let (hll, from) = history_list_length(session).await?;
        source = from;
        samples.push(Sample {
            elapsed_s: started.elapsed().as_secs_f64(),
            history_list_length: hll,
        });
    }
    let growth_per_s = growth(&samples);
    let length = samples.last().map_or(0, |s| s.history_list_length);
    let threads = processlist::threads(session).await?;
    let last = processlist::last_statements(session).await?;
    let status = match mariadb {
        true => Some(deadlocks::innodb_status(session).await?),
        false => None,
    };
    Ok(HistoryReport {
        history_list_length: length,
        source,
        verdict: Verdict::of(length, args.warn, args.crit),
        warn: args.warn,
        crit: args.crit,
        growth_per_s,
        samples,
        purge_blockers: purge::blockers(mariadb, &threads, last.as_ref(), status.as_deref()),
        purge_done_below: status.as_deref().and_then(innodb_status::purge_done_below),
        oldest_trx: oldest_trx_from(&threads, last.as_ref()),
    })
}

/// Change per second between the first and the last sample.
fn growth(samples: &[Sample]) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let seconds = last.elapsed_s - first.elapsed_s;
    (samples.len() > 1 && seconds > 0.0)
        .then(|| (last.history_list_length as f64 - first.history_list_length as f64) / seconds)
}

impl Report for HistoryReport {
    fn view(&self, _: &ViewOptions) -> View {
        let mut fields = vec![
            (
                "History list length".to_owned(),
                format!(
                    "{} {} (warn {}, crit {})",
                    self.history_list_length,
                    self.verdict.label(),
                    self.warn,
                    self.crit
                ),
            ),
            ("Source".to_owned(), serde_label(&self.source)),
        ];
        if let Some(rate) = self.growth_per_s {
            fields.push((
                "Growth".to_owned(),
                format!("{rate:+.1}/s over {} samples", self.samples.len()),
            ));
        }
        let oldest = match &self.oldest_trx {
            Some(t) => {
                let what = now_or_last(t.statement.as_deref(), t.last_statement.as_deref(), false);
                let idle = if t.idle_in_trx {
                    ", idle in transaction"
                } else {
                    ""
                };
                format!(
                    "pid {} {} trx {} open {}s{idle} {what}",
                    t.pid,
                    account(t.user.as_deref(), t.host.as_deref()),
                    t.trx_id,
                    t.age_s
                )
            }
            None => "no open transaction".to_owned(),
        };
        let holding = if self.purge_blockers.is_empty() {
            "nothing: no read view or open writer is older than the history".to_owned()
        } else {
            self.purge_blockers
                .iter()
                .map(describe_blocker)
                .collect::<Vec<_>>()
                .join("\n")
        };
        fields.push(("Holding purge back".to_owned(), holding));
        fields.push(("Oldest transaction".to_owned(), oldest));
        View {
            blocks: vec![Block::Fields {
                title: None,
                fields,
            }],
        }
    }
}

/// One purge blocker on one line: who, what it holds and how that is known.
pub(crate) fn describe_blocker(b: &PurgeBlocker) -> String {
    let what = now_or_last(b.statement.as_deref(), b.last_statement.as_deref(), false);
    let holds = match b.holds {
        purge::Holds::ReadView => "read view",
        purge::Holds::Transaction => "transaction",
    };
    format!(
        "pid {} {} {holds} {}s, {} ({}: {}) {what}",
        b.pid,
        account(b.user.as_deref(), b.host.as_deref()),
        b.age_s,
        b.isolation.as_deref().unwrap_or("isolation unknown"),
        crate::render::serde_label(&b.how),
        b.reason
    )
    .trim_end()
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_rate() {
        let at = |elapsed_s: f64, history_list_length: u64| Sample {
            elapsed_s,
            history_list_length,
        };
        assert_eq!(growth(&[at(0.0, 100)]), None);
        assert_eq!(growth(&[at(0.0, 100), at(2.0, 300)]), Some(100.0));
        assert_eq!(
            growth(&[at(0.0, 300), at(1.0, 250), at(2.0, 100)]),
            Some(-100.0)
        );
        assert_eq!(growth(&[]), None);
    }
}
