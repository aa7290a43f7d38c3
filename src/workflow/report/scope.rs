//! Which records a report covers: an incident (the latest, or one by id) or a time range.

use anyhow::{Context, Result, bail};

use super::Options;
use crate::evidence::record::IncidentRecord;
use crate::evidence::{self, Record};

/// The records a report covers, and what it is called.
pub(super) struct Scope {
    pub title: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub records: Vec<Record>,
}

pub(super) fn select(records: Vec<Record>, args: &Options) -> Result<Scope> {
    if args.since.is_some() || args.until.is_some() {
        let since = args
            .since
            .as_deref()
            .map(evidence::parse_time)
            .transpose()?;
        let until = args
            .until
            .as_deref()
            .map(evidence::parse_time)
            .transpose()?;
        let kept = records
            .into_iter()
            .filter(|r| {
                let at = at(r);
                since.is_none_or(|s| at.is_some_and(|a| a >= s))
                    && until.is_none_or(|u| at.is_some_and(|a| a < u))
            })
            .collect::<Vec<_>>();
        return Ok(Scope {
            title: None,
            from: kept.first().and_then(Record::at).map(str::to_owned),
            to: kept.last().and_then(Record::at).map(str::to_owned),
            records: kept,
        });
    }
    let starts: Vec<&IncidentRecord> = records
        .iter()
        .filter_map(|r| match r {
            Record::IncidentStart(start) => Some(start),
            _ => None,
        })
        .collect();
    let start = match &args.incident {
        Some(id) => starts.into_iter().find(|r| r.header.id == *id).with_context(|| format!("no incident {id} in the log"))?,
        None => match starts.last() {
            Some(start) => start,
            None => bail!("the log has no incident; use --since/--until, or `mytriage incident start` next time"),
        },
    }
    .clone();
    let end = records
        .iter()
        .find_map(|r| match r {
            Record::IncidentEnd(end) if end.incident == start.header.id => Some(end),
            _ => None,
        })
        .cloned();
    let (from, to) = (
        parse_at(&start.header.at),
        end.as_ref().and_then(|e| parse_at(&e.header.at)),
    );
    let kept = records
        .into_iter()
        .filter(|r| {
            at(r).is_some_and(|a| from.is_some_and(|f| a >= f) && to.is_none_or(|t| a <= t))
        })
        .collect();
    Ok(Scope {
        title: start.title,
        from: Some(start.header.at),
        to: end.map(|e| e.header.at),
        records: kept,
    })
}

pub(super) fn at(record: &Record) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    parse_at(record.at()?)
}

pub(super) fn parse_at(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(text).ok()
}
