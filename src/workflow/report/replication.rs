//! What the report says about replicas, from the `replication` records `replication --record`
//! wrote: a replica that stopped applying its source's changes, and why, in plain words.

use crate::evidence::Record;
use crate::evidence::replication::{RecordedChannel, RecordedError, ReplicationRecord};

/// A channel in trouble, as one record showed it.
pub(super) struct Trouble<'a> {
    pub record: &'a ReplicationRecord,
    pub channel: &'a RecordedChannel,
}

/// The channels in trouble, each distinct trouble once (the first record that showed it): an
/// operator who records the same broken replica three times gets one line.
pub(super) fn troubles(records: &[Record]) -> Vec<Trouble<'_>> {
    let mut seen = Vec::new();
    let mut found = Vec::new();
    for record in records {
        let Record::Replication(record) = record else {
            continue;
        };
        for channel in record.channels.iter().filter(|c| c.in_trouble()) {
            let key = (
                record.server.address.clone(),
                channel.name.clone(),
                channel.broken.clone(),
                channel.blocked_by.as_ref().map(|b| b.blocker_pid),
            );
            if !seen.contains(&key) {
                seen.push(key);
                found.push(Trouble { record, channel });
            }
        }
    }
    found
}

impl Trouble<'_> {
    /// The replica and the channel, as a reader would name them.
    fn replica(&self) -> String {
        let server = &self.record.server;
        let mut name = match &server.hostname {
            Some(host) => format!("{} ({host})", server.address),
            None => server.address.clone(),
        };
        if !self.channel.name.is_empty() {
            name.push_str(&format!(", channel {}", self.channel.name));
        }
        name
    }

    fn source(&self) -> String {
        self.channel
            .source
            .clone()
            .unwrap_or_else(|| "its source".to_owned())
    }

    fn lag(&self, ko: bool) -> Option<String> {
        let lag = self.channel.lag_s?;
        Some(if ko {
            format!("{lag:.0}초")
        } else {
            format!("{lag:.0} seconds")
        })
    }

    fn stopped(&self) -> bool {
        self.channel.broken.is_some()
    }

    /// The Symptom line: what people noticed. A stopped replica's lag is left out: the server
    /// no longer measures it, and the last applied transaction's says nothing about now.
    pub(super) fn symptom(&self, at: &str, ko: bool) -> String {
        let (replica, source) = (self.replica(), self.source());
        let behind = self.lag(ko);
        match (self.stopped(), ko) {
            (true, false) => format!(
                "{at}: the replica {replica} had stopped taking changes from {source}, so what it served grew more out of date by the minute."
            ),
            (true, true) => format!(
                "{at}: 복제 서버 {replica}가 원본 {source}의 변경 내용을 더 이상 받아 적용하지 못해, 보여 주는 데이터가 점점 더 오래된 것이 되었습니다."
            ),
            (false, false) => format!(
                "{at}: the replica {replica} was falling behind {source}{}: changes reached it late.",
                behind.map(|l| format!(" ({l} behind)")).unwrap_or_default()
            ),
            (false, true) => format!(
                "{at}: 복제 서버 {replica}가 원본 {source}보다 뒤처지고 있었습니다{}. 변경 내용이 늦게 반영되었습니다.",
                behind.map(|l| format!(" ({l})")).unwrap_or_default()
            ),
        }
    }

    /// The Cause lines. The server's own messages and the blocker's statement carry data, so
    /// they go to the appendix (`R{n}`), where the report masks literals as it does statements.
    pub(super) fn cause(&self, n: usize, ko: bool) -> Vec<String> {
        let replica = self.replica();
        let channel = self.channel;
        let mut lines = Vec::new();
        if let Some(error) = &channel.sql_error {
            lines.push(applier_error(&replica, error, channel, n, ko));
        } else if channel.sql_running.as_deref() == Some("No") {
            lines.push(if ko {
                format!(
                    "{replica}의 복제 적용 스레드가 오류 없이 멈춰 있었습니다. 누군가 STOP REPLICA(또는 STOP SLAVE)를 실행한 것으로 보입니다."
                )
            } else {
                format!(
                    "On {replica} the replication applier had been stopped without an error: someone ran STOP REPLICA (or STOP SLAVE)."
                )
            });
        }
        if let Some(error) = &channel.io_error {
            lines.push(if ko {
                format!(
                    "{replica}가 원본 {}에서 변경 내용을 읽어 오지 못했습니다 (오류 {}, 서버의 메시지는 부록 R{n}).",
                    self.source(),
                    error.errno,
                )
            } else {
                format!(
                    "{replica} could not read changes from {} (error {}; the server's message is in appendix R{n}).",
                    self.source(),
                    error.errno,
                )
            });
        } else if channel.io_running.as_deref() == Some("No") {
            lines.push(if ko {
                format!("{replica}의 복제 수신 스레드가 오류 없이 멈춰 있었습니다.")
            } else {
                format!(
                    "On {replica} the thread that reads from the source had been stopped without an error."
                )
            });
        }
        if let Some(blocker) = &channel.blocked_by {
            let pid = blocker.blocker_pid;
            let user = blocker.blocker_user.as_deref().unwrap_or("?");
            let how = if blocker.exact {
                ""
            } else if ko {
                " (잠금 대기 경로 일부는 추정입니다)"
            } else {
                " (part of the lock-wait path is inferred)"
            };
            let doing = match (blocker.idle_in_trx, ko) {
                (true, false) => "it sat idle inside an open transaction",
                (true, true) => "트랜잭션을 연 채 아무 작업도 하지 않으면서",
                (false, false) => "it was running",
                (false, true) => "실행 중이면서",
            };
            lines.push(if ko {
                format!(
                    "{replica}의 복제가 그 복제 서버의 세션 {pid}({user})에 막혀 있었습니다{how}. 이 세션이 {doing} 복제 적용에 필요한 잠금을 쥐고 있어서, 원본의 변경 내용이 쌓이기만 했습니다. 이 세션의 문장은 부록 R{n}에 있습니다."
                )
            } else {
                format!(
                    "Replication on {replica} was held up by session {pid} ({user}) on that replica{how}: {doing} and held a lock the replication applier needed, so the source's changes queued up. Its statement is in appendix R{n}."
                )
            });
        }
        lines
    }

    /// The appendix entry `R{n}`: the blocker's statement through `shown`, and the server's
    /// error messages, their quoted values masked unless `keep_literals`.
    pub(super) fn appendix(
        &self,
        n: usize,
        ko: bool,
        shown: &dyn Fn(Option<&str>) -> String,
        keep_literals: bool,
    ) -> String {
        let t = |en: &str, kr: &str| if ko { kr.to_owned() } else { en.to_owned() };
        let mut entry = format!("R{n}. {} {}\n\n", t("replica", "복제 서버"), self.replica());
        let channel = self.channel;
        if let Some(blocker) = &channel.blocked_by {
            entry.push_str(&format!(
                "{} {}:\n\n```sql\n{}\n```\n\n",
                t("session", "세션"),
                blocker.blocker_pid,
                shown(blocker.statement.as_deref())
            ));
        }
        for (what, error) in [
            (t("applier error", "복제 적용 오류"), &channel.sql_error),
            (t("receiver error", "복제 수신 오류"), &channel.io_error),
        ] {
            if let Some(error) = error {
                entry.push_str(&format!(
                    "{what} {}:\n\n```\n{}\n```\n\n",
                    error.errno,
                    if keep_literals {
                        error.message.clone()
                    } else {
                        crate::redact::message_for_sharing(&error.message)
                    }
                ));
            }
        }
        entry
    }

    /// A few words for the timeline.
    pub(super) fn label(&self, ko: bool) -> String {
        match (&self.channel.blocked_by, ko) {
            (Some(b), false) => format!("applier blocked by {}", b.blocker_pid),
            (Some(b), true) => format!("복제가 {}에 막힘", b.blocker_pid),
            (None, false) => "replica stopped".to_owned(),
            (None, true) => "복제 중단".to_owned(),
        }
    }

    /// Whether the applier failed on a row that differed from the source's.
    pub(super) fn drifted(&self) -> bool {
        self.channel
            .sql_error
            .as_ref()
            .is_some_and(|e| matches!(e.errno, 1062 | 1032))
    }
}

/// The applier's error in plain words, with the transaction it failed on.
fn applier_error(
    replica: &str,
    error: &RecordedError,
    channel: &RecordedChannel,
    n: usize,
    ko: bool,
) -> String {
    let at = error
        .at
        .as_deref()
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    let transaction = channel.failing_transaction.as_deref().unwrap_or("?");
    let meaning = match (error.errno, ko) {
        (1062, false) => {
            " The row it had to insert already existed on the replica: the replica's data had drifted from the source's, typically because something wrote on the replica directly."
        }
        (1062, true) => {
            " 복제 서버에 넣으려던 행이 이미 있었습니다. 누군가 복제 서버에 직접 쓰는 등으로 복제 서버의 데이터가 원본과 달라져 있었습니다."
        }
        (1032, false) => {
            " The row it had to change was missing on the replica: the replica's data had drifted from the source's."
        }
        (1032, true) => {
            " 바꿔야 할 행이 복제 서버에 없었습니다. 복제 서버의 데이터가 원본과 달라져 있었습니다."
        }
        _ => "",
    };
    if ko {
        format!(
            "{replica}의 복제가 멈췄습니다{at}: 트랜잭션 {transaction}을 적용하지 못했습니다 (오류 {}, 서버의 메시지는 부록 R{n}).{meaning} 복구될 때까지 이 복제 서버에는 원본의 어떤 변경도 반영되지 않습니다.",
            error.errno
        )
    } else {
        format!(
            "Replication on {replica} broke{at}: the replica could not apply transaction {transaction} (error {}; the server's message is in appendix R{n}).{meaning} Until it is repaired, no change from the source reaches it.",
            error.errno
        )
    }
}
