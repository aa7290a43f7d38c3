//! The load as tables: the sparkline, then the load by wait, SQL, account and db.

use super::*;
use crate::render::{Block, Report, View, ViewOptions, clip};

impl Report for TopReport {
    fn view(&self, _: &ViewOptions) -> View {
        let reference = self.cpus.map(f64::from);
        let mut fields = vec![
            (
                "Load (AAS)".to_owned(),
                format!("{:.2} over {} samples", self.aas, self.samples),
            ),
            ("Shape".to_owned(), sparkline(&self.series, reference)),
        ];
        if let Some(cpus) = self.cpus {
            fields.push((
                "vCPUs".to_owned(),
                format!("{cpus} (load above this line waits for CPU)"),
            ));
        }
        if let Some(max) = self.max_connections {
            fields.push(("max_connections".to_owned(), max.to_string()));
        }
        fields.push(("Source".to_owned(), self.source.to_string()));
        let table = |title: &str, loads: &[Load], width: bool| Block::Table {
            title: Some(title.to_owned()),
            header: vec!["AAS".to_owned(), title.trim_start_matches("By ").to_owned()],
            rows: loads
                .iter()
                .take(10)
                .map(|l| {
                    vec![
                        format!("{:.2}", l.aas),
                        if width {
                            clip(&l.key, false)
                        } else {
                            l.key.clone()
                        },
                    ]
                })
                .collect(),
        };
        View {
            blocks: vec![
                Block::Fields {
                    title: None,
                    fields,
                },
                table("By wait", &self.by_wait, false),
                table("By SQL", &self.by_sql, true),
                table("By account", &self.by_account, false),
                table("By db", &self.by_db, false),
                Block::Table {
                    title: Some("Statements over the window (deltas)".to_owned()),
                    header: ["calls/s", "avg ms", "rows examined/call", "SQL"]
                        .map(str::to_owned)
                        .to_vec(),
                    rows: self
                        .statements
                        .iter()
                        .map(|s| {
                            vec![
                                format!("{:.2}", s.calls_per_s),
                                format!("{:.2}", s.avg_latency_ms),
                                format!("{:.1}", s.rows_examined_per_call),
                                clip(&s.digest_text, false),
                            ]
                        })
                        .collect(),
                },
            ],
        }
    }
}
