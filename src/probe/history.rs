//! `mytriage history`: the InnoDB history list length (purge lag), its growth, and the oldest
//! open transaction, which holds purge back.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::cli::HistoryArgs;
use crate::connect::Session;
use crate::innodb_status;
use crate::probe::{deadlocks, processlist};
use crate::render::{Block, Report, View, clip};
use crate::verdict::Verdict;

/// The transaction that holds purge back.
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
    pub source: &'static str,
    pub verdict: Verdict,
    pub warn: u64,
    pub crit: u64,
    /// Growth per second over the samples (`--sample N --interval S`), when more than one.
    pub growth_per_s: Option<f64>,
    pub samples: Vec<Sample>,
    pub oldest_trx: Option<OldestTrx>,
}

/// The history list length now, and where it came from.
pub(crate) async fn history_list_length(session: &mut Session) -> Result<(u64, &'static str)> {
    history_list_length_with(session, None).await
}

/// As [`history_list_length`], falling back to an InnoDB status text already read, if any.
pub(crate) async fn history_list_length_with(
    session: &mut Session,
    innodb_status_text: Option<&str>,
) -> Result<(u64, &'static str)> {
    let sql = session.server.history_list_length_query();
    let rows: Vec<(u64, bool)> = session
        .db
        .query("reading the history list length", sql)
        .await?;
    if let Some((hll, true)) = rows.first() {
        return Ok((*hll, "information_schema.INNODB_METRICS"));
    }
    let status = match innodb_status_text {
        Some(text) => text.to_owned(),
        None => deadlocks::innodb_status(session).await?,
    };
    let hll = innodb_status::history_list_length(&status)
        .context("no 'History list length' in SHOW ENGINE INNODB STATUS")?;
    Ok((hll, "SHOW ENGINE INNODB STATUS"))
}

/// The oldest open transaction: its read view (or its undo) is what purge waits for.
pub(crate) async fn oldest_trx(session: &mut Session) -> Result<Option<OldestTrx>> {
    let threads = processlist::threads(session).await?;
    let last = processlist::last_statements(session).await?;
    Ok(oldest_trx_from(&threads, last.as_ref()))
}

/// As [`oldest_trx`], on a thread snapshot and last statements already read.
pub(crate) fn oldest_trx_from(
    threads: &[processlist::Thread],
    last: Option<&HashMap<u64, String>>,
) -> Option<OldestTrx> {
    let oldest = threads
        .iter()
        .filter(|t| t.trx.is_some())
        .max_by_key(|t| t.trx_age())?;
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

/// Samples the history list length and names the oldest transaction.
pub(crate) async fn collect(session: &mut Session, args: &HistoryArgs) -> Result<HistoryReport> {
    session.require_process("reading the history list length")?;
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut source = "";
    for index in 0..args.sample {
        if index > 0 {
            tokio::time::sleep(args.interval).await;
        }
        let (hll, from) = history_list_length(session).await?;
        source = from;
        samples.push(Sample {
            elapsed_s: started.elapsed().as_secs_f64(),
            history_list_length: hll,
        });
    }
    let growth_per_s = growth(&samples);
    let last = samples.last().map_or(0, |s| s.history_list_length);
    Ok(HistoryReport {
        history_list_length: last,
        source,
        verdict: Verdict::of(last, args.warn, args.crit),
        warn: args.warn,
        crit: args.crit,
        growth_per_s,
        samples,
        oldest_trx: oldest_trx(session).await?,
    })
}

/// Change per second between the first and the last sample.
fn growth(samples: &[Sample]) -> Option<f64> {
    let (first, last) = (samples.first()?, samples.last()?);
    let seconds = last.elapsed_s - first.elapsed_s;
    (samples.len() > 1 && seconds > 0.0)
        .then(|| (last.history_list_length as f64 - first.history_list_length as f64) / seconds)
}

impl HistoryReport {
    /// Exit code 1 when the length is at or above the warning threshold.
    pub(crate) fn breached(&self) -> bool {
        self.verdict != Verdict::Ok
    }
}

impl Report for HistoryReport {
    fn view(&self) -> View {
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
            ("Source".to_owned(), self.source.to_owned()),
        ];
        if let Some(rate) = self.growth_per_s {
            fields.push((
                "Growth".to_owned(),
                format!("{rate:+.1}/s over {} samples", self.samples.len()),
            ));
        }
        let oldest = match &self.oldest_trx {
            Some(t) => {
                let what = match (&t.statement, &t.last_statement) {
                    (Some(now), _) => clip(now, false),
                    (None, Some(last)) => format!("last: {}", clip(last, false)),
                    (None, None) => String::new(),
                };
                let idle = if t.idle_in_trx {
                    ", idle in transaction"
                } else {
                    ""
                };
                format!(
                    "pid {} {}@{} trx {} open {}s{idle} {what}",
                    t.pid,
                    t.user.as_deref().unwrap_or("?"),
                    t.host
                        .as_deref()
                        .map(crate::render::strip_port)
                        .unwrap_or("?"),
                    t.trx_id,
                    t.age_s
                )
            }
            None => "no open transaction".to_owned(),
        };
        fields.push(("Holding purge back".to_owned(), oldest));
        View {
            blocks: vec![Block::Fields {
                title: None,
                fields,
            }],
        }
    }
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
