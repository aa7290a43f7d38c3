//! The human view of a kill: one line per victim, then what was skipped and where the evidence is.

use super::KillReport;
use crate::evidence::record::AfterState;
use crate::render::{Block, Report, View, ViewOptions, serde_label};

impl Report for KillReport {
    fn view(&self, _: &ViewOptions) -> View {
        let header = [
            "pid",
            "user@host",
            "trx",
            "blocks",
            "result",
            "method",
            "after",
            "changed / error",
        ];
        let rows = self
            .victims
            .iter()
            .map(|v| {
                let thread = &v.snapshot.thread;
                let after = v.outcome.after.as_ref().map(|a| match a.rows_left {
                    Some(rows) if a.state != AfterState::Gone => {
                        format!("{} ({rows} rows left)", serde_label(&a.state))
                    }
                    _ => serde_label(&a.state),
                });
                vec![
                    v.snapshot.pid.to_string(),
                    format!(
                        "{}@{}",
                        thread.user.as_deref().unwrap_or("?"),
                        thread.host.as_deref().unwrap_or("?")
                    ),
                    thread
                        .trx
                        .as_ref()
                        .map(|t| format!("{}s", t.age_s))
                        .unwrap_or_default(),
                    v.snapshot.blocks.waiters_total.to_string(),
                    serde_label(&v.outcome.result),
                    v.outcome
                        .method
                        .as_ref()
                        .map(serde_label)
                        .unwrap_or_default(),
                    after.unwrap_or_default(),
                    v.outcome
                        .error
                        .clone()
                        .unwrap_or_else(|| v.outcome.changed.join("; ")),
                ]
            })
            .collect();
        let mut blocks = vec![Block::Table {
            title: None,
            header: header.map(str::to_owned).to_vec(),
            rows,
        }];
        if self.victims.is_empty() {
            blocks = vec![Block::Note(
                "No session matched: nothing to kill.".to_owned(),
            )];
        }
        for skip in &self.skipped {
            blocks.push(Block::Note(format!(
                "skipped {}: {}",
                skip.pid, skip.reason
            )));
        }
        if self.dry_run {
            blocks.push(Block::Note(
                "dry run: nothing was killed (batch kills need --execute)".to_owned(),
            ));
        }
        blocks.push(Block::Note(format!(
            "evidence: {}",
            self.evidence.display()
        )));
        View { blocks }
    }
}
