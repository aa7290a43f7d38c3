//! The report's Markdown: the four sections (Symptom, Cause, Response, Prevention, or
//! 현상, 원인, 대응, 대책) in plain words, then the raw statements in an appendix.

use std::fmt::Write;
use std::path::Path;

use super::Lang;
use super::replication::troubles;
use super::scope::Scope;
use crate::evidence::Record;
use crate::evidence::record::{
    AfterState, DeadlockRecord, IncidentRecord, KillOutcome, KillResult, KillSnapshot,
};

/// `2026-11-22T02:43:21.993Z` → `2026-11-22 02:43:21 UTC`.
pub(super) fn when(text: Option<&str>) -> String {
    match text.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        None => "?".to_owned(),
    }
}

/// A text field as the report shows it: `?` where the record has none.
pub(super) fn text(value: Option<&str>) -> String {
    value.unwrap_or("?").to_owned()
}

/// A number as the report shows it: `?` where the record has none.
pub(super) fn number(value: Option<u64>) -> String {
    value.map_or_else(|| "?".to_owned(), |n| n.to_string())
}

/// The statement a snapshot's session ran (now, or last).
pub(super) fn statement(snapshot: &KillSnapshot) -> Option<&str> {
    snapshot
        .thread
        .statement
        .as_deref()
        .or(snapshot.last_statement.as_deref())
}

pub(super) fn tables(snapshot: &KillSnapshot) -> String {
    let mut names: Vec<String> = snapshot
        .locks
        .iter()
        .filter_map(|l| l.table.clone())
        .collect();
    names.sort();
    names.dedup();
    names.join(", ")
}

pub(super) fn render(scope: &Scope, lang: Lang, path: &Path, keep_literals: bool) -> String {
    let shown = |sql: Option<&str>| match sql {
        Some(sql) if keep_literals => sql.to_owned(),
        Some(sql) => crate::redact::for_sharing(sql),
        None => "-".to_owned(),
    };
    let ko = lang == Lang::Ko;
    let t = |en: &str, kr: &str| if ko { kr.to_owned() } else { en.to_owned() };
    let mut snapshots: Vec<&KillSnapshot> = Vec::new();
    let mut outcomes: Vec<&KillOutcome> = Vec::new();
    let mut deadlocks: Vec<&DeadlockRecord> = Vec::new();
    let mut notes: Vec<&IncidentRecord> = Vec::new();
    for record in &scope.records {
        match record {
            Record::KillSnapshot(s) => snapshots.push(s),
            Record::KillOutcome(o) => outcomes.push(o),
            Record::Deadlock(d) => deadlocks.push(d),
            Record::IncidentNote(n) => notes.push(n),
            _ => {}
        }
    }
    let replicas = troubles(&scope.records);
    let mut md = String::new();
    let title = scope
        .title
        .clone()
        .unwrap_or_else(|| t("database incident", "데이터베이스 장애"));
    let _ = writeln!(md, "# {}: {title}\n", t("Incident report", "장애 보고서"));
    let period_end = scope
        .to
        .as_deref()
        .map(|e| when(Some(e)))
        .unwrap_or_else(|| t("ongoing", "진행 중"));
    let _ = writeln!(
        md,
        "- {}: {} – {period_end}",
        t("Period", "기간"),
        when(scope.from.as_deref())
    );
    let _ = writeln!(
        md,
        "- {}: `{}`\n",
        t(
            "Written by mytriage from the evidence log",
            "mytriage가 증거 기록에서 작성"
        ),
        path.display()
    );

    let _ = writeln!(md, "## {}\n", t("Symptom", "현상 (Symptom)"));
    if snapshots.is_empty() && deadlocks.is_empty() && replicas.is_empty() {
        let _ = writeln!(
            md,
            "{}\n",
            t(
                "No blocking session and no deadlock were recorded.",
                "작업을 막은 세션이나 교착 상태는 기록되지 않았습니다."
            )
        );
    }
    for s in &snapshots {
        let waiters = s.blocks.waiters_total;
        let age = s.thread.trx.as_ref().map(|t| t.age_s);
        let idle = s.thread.idle_in_trx;
        let (pid, user, host) = (
            s.pid.to_string(),
            text(s.thread.user.as_deref()),
            crate::render::strip_port(&text(s.thread.host.as_deref())).to_owned(),
        );
        let _ = write!(
            md,
            "- {}",
            if ko {
                format!(
                    "{}: 세션 {pid}({user}, {host}에서 접속)이 다른 세션 {waiters}개를 기다리게 하고 있었습니다.",
                    when(Some(&s.header.at))
                )
            } else {
                format!(
                    "{}: session {pid} ({user} from {host}) was holding up {waiters} other session(s).",
                    when(Some(&s.header.at))
                )
            }
        );
        if let Some(age) = age {
            let _ = write!(
                md,
                " {}",
                match (ko, idle) {
                    (true, true) => format!(
                        "이 세션의 트랜잭션은 {age}초 동안 열려 있었고, 그동안 아무 작업도 하지 않았습니다(유휴 상태)."
                    ),
                    (true, false) => format!("이 세션의 트랜잭션은 {age}초 동안 열려 있었습니다."),
                    (false, true) => format!(
                        "Its transaction had been open for {age} seconds while it did nothing (idle)."
                    ),
                    (false, false) => format!("Its transaction had been open for {age} seconds."),
                }
            );
        }
        md.push('\n');
    }
    if !deadlocks.is_empty() {
        let _ = writeln!(
            md,
            "- {}",
            if ko {
                format!(
                    "교착 상태(deadlock) {}건: 두 작업이 서로 상대가 끝나기를 기다려, 데이터베이스가 그중 하나를 취소했습니다.",
                    deadlocks.len()
                )
            } else {
                format!(
                    "{} deadlock(s): two pieces of work each waited for the other, so the database cancelled one of them.",
                    deadlocks.len()
                )
            }
        );
    }

    for trouble in &replicas {
        let at = when(Some(&trouble.record.header.at));
        let _ = writeln!(md, "- {}", trouble.symptom(&at, ko));
    }

    let _ = writeln!(md, "\n## {}\n", t("Cause", "원인 (Cause)"));
    for (n, s) in snapshots.iter().enumerate() {
        let (pid, rows) = (
            s.pid.to_string(),
            s.thread.trx.as_ref().map_or(0, |t| t.rows_locked),
        );
        let place = tables(s);
        let idle = s.thread.idle_in_trx;
        let _ = writeln!(
            md,
            "- {}",
            match (ko, idle) {
                (true, true) => format!(
                    "근본 원인은 세션 {pid}입니다. 데이터를 변경한 뒤({place}의 행 {rows}개를 잠금) 트랜잭션을 끝내지 않고 멈춰 있어서, 다른 작업들이 진행하지 못했습니다. 마지막으로 실행한 문장은 부록 A{}에 있습니다.",
                    n + 1
                ),
                (true, false) => format!(
                    "세션 {pid}이 {place}의 행 {rows}개를 잠근 채 실행 중이어서 다른 작업들이 기다렸습니다. 실행 중인 문장은 부록 A{}에 있습니다.",
                    n + 1
                ),
                (false, true) => format!(
                    "The root cause was session {pid}: it changed data ({rows} row(s) locked in {place}) and then stopped without finishing its transaction, so the others could not continue. Its last statement is in appendix A{}.",
                    n + 1
                ),
                (false, false) => format!(
                    "Session {pid} held {rows} row lock(s) in {place} while it ran, so the others waited. Its statement is in appendix A{}.",
                    n + 1
                ),
            }
        );
        if !s.blocks.appliers.is_empty() {
            let _ = writeln!(
                md,
                "- {}",
                t(
                    "Among those it held up was the replication applier of this replica: while it waited, the replica fell further behind its source (changes made on the source did not reach it).",
                    &format!(
                        "세션 {pid}이 막은 작업 중에는 이 복제 서버의 복제 적용 스레드도 있었습니다. 그동안 복제 서버는 원본 서버보다 점점 뒤처졌습니다(원본에서 바뀐 데이터가 반영되지 않았습니다)."
                    ),
                )
            );
        }
    }
    for d in &deadlocks {
        let tables: Vec<String> = d
            .deadlock
            .iter()
            .flat_map(|d| &d.transactions)
            .flat_map(|x| x.holds.iter().chain(&x.waits_for))
            .filter_map(|l| l.table.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let _ = writeln!(
            md,
            "- {}",
            if ko {
                format!(
                    "{}의 교착 상태: 테이블 {}의 같은 행들을 서로 다른 순서로 잠갔습니다.",
                    deadlock_time(d),
                    tables.join(", ")
                )
            } else {
                format!(
                    "Deadlock at {}: transactions locked the same rows of {} in different orders.",
                    deadlock_time(d),
                    tables.join(", ")
                )
            }
        );
    }
    for (n, trouble) in replicas.iter().enumerate() {
        for line in trouble.cause(n + 1, ko) {
            let _ = writeln!(md, "- {line}");
        }
    }
    if snapshots.is_empty() && deadlocks.is_empty() && replicas.is_empty() {
        let _ = writeln!(
            md,
            "{}",
            t(
                "Nothing in the log points to a cause.",
                "기록에서 원인을 가리키는 내용이 없습니다."
            )
        );
    }

    let _ = writeln!(md, "\n## {}\n", t("Response", "대응 (Response)"));
    // One timeline: kills and notes in the order they happened.
    let mut timeline: Vec<(String, String)> = Vec::new();
    for o in &outcomes {
        let snapshot = snapshots.iter().find(|s| s.header.id == o.snapshot_id);
        let operator = snapshot
            .and_then(|s| s.header.operator.as_ref())
            .and_then(|operator| operator.os_user.clone())
            .unwrap_or_else(|| "?".into());
        let reason = snapshot.map(|s| s.reason.clone()).unwrap_or_default();
        let result = outcome_text(o, ko);
        let line = if ko {
            format!(
                "{}: {operator}이(가) 세션 {}을(를) 종료했습니다 (사유: \"{reason}\"). 결과: {result}",
                when(Some(&o.header.at)),
                o.pid
            )
        } else {
            format!(
                "{}: {operator} ended session {} (reason: \"{reason}\"). Result: {result}",
                when(Some(&o.header.at)),
                o.pid
            )
        };
        timeline.push((o.header.at.clone(), line));
    }
    for note in &notes {
        let line = format!(
            "{}: {} {}",
            when(Some(&note.header.at)),
            t("note:", "메모:"),
            text(note.text.as_deref())
        );
        timeline.push((note.header.at.clone(), line));
    }
    timeline.sort();
    for (_, line) in &timeline {
        let _ = writeln!(md, "- {line}");
    }
    if outcomes.is_empty() && notes.is_empty() {
        let _ = writeln!(
            md,
            "{}",
            t("No action was recorded.", "기록된 조치가 없습니다.")
        );
    }

    let _ = writeln!(
        md,
        "\n## {}\n",
        t("Prevention (suggestions)", "대책 (Prevention, 제안)")
    );
    let _ = writeln!(
        md,
        "{}\n",
        t(
            "These follow from the recorded facts; they are suggestions, not established conclusions.",
            "아래는 기록된 사실에서 나온 제안이며, 확정된 결론이 아닙니다."
        )
    );
    let idle_root = snapshots.iter().any(|s| s.thread.idle_in_trx);
    let many_rows = snapshots
        .iter()
        .any(|s| s.thread.trx.as_ref().map_or(0, |t| t.rows_locked) >= 10_000);
    if idle_root {
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Check that the application commits or rolls back right away (connection-pool settings, error paths that skip COMMIT).",
                "애플리케이션이 트랜잭션을 바로 커밋 또는 롤백하는지 확인하세요 (커넥션 풀 설정, COMMIT을 건너뛰는 오류 처리 경로).",
            )
        );
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Add an alert for sessions idle inside a transaction: `mytriage check --idle-trx-crit 300s`.",
                "트랜잭션 안에서 멈춘 세션에 대한 알림을 추가하세요: `mytriage check --idle-trx-crit 300s`.",
            )
        );
    }
    if many_rows {
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Split large changes into smaller batches.",
                "큰 변경은 작은 단위로 나누어 실행하세요."
            )
        );
    }
    if !deadlocks.is_empty() {
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Have the application touch rows in one consistent order, and check that the columns in its WHERE clauses are indexed.",
                "애플리케이션이 행에 접근하는 순서를 일정하게 하고, WHERE 조건에 쓰인 열에 인덱스가 있는지 확인하세요.",
            )
        );
    }
    if replicas.iter().any(|r| r.channel.blocked_by.is_some()) {
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Run long reports and backups on a replica without locking reads or long open transactions (a consistent snapshot holds no row locks), or on a replica the application does not read from; alert on lag: `mytriage check --repl-lag-warn 60s` on each replica.",
                "복제 서버에서 긴 리포트나 백업을 돌릴 때는 잠금 읽기나 오래 열린 트랜잭션 없이 실행하거나(일관된 스냅숏 읽기는 행 잠금을 잡지 않습니다), 애플리케이션이 읽지 않는 복제 서버에서 실행하세요. 복제 지연 알림을 두세요: 복제 서버마다 `mytriage check --repl-lag-warn 60s`.",
            )
        );
    }
    if replicas.iter().any(|r| r.drifted()) {
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Keep replicas read-only (`super_read_only = ON`, or `read_only` on MariaDB) so nothing writes on them directly, and compare them with their source (pt-table-checksum) before trusting their data again.",
                "복제 서버에 직접 쓰지 못하도록 읽기 전용으로 두고(`super_read_only = ON`, MariaDB는 `read_only`), 데이터를 다시 믿기 전에 원본과 비교하세요(pt-table-checksum).",
            )
        );
    }
    if replicas.iter().any(|r| r.channel.broken.is_some()) {
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Alert when replication stops: `mytriage check` on each replica is CRITICAL while a replication thread is stopped or failing.",
                "복제가 멈추면 알림을 받도록 하세요: 복제 서버마다 `mytriage check`를 두면 복제 스레드가 멈추거나 실패할 때 CRITICAL입니다.",
            )
        );
    }
    if !idle_root && !many_rows && deadlocks.is_empty() && replicas.is_empty() {
        let _ = writeln!(
            md,
            "- {}",
            t(
                "Keep `mytriage check` in monitoring to catch a repeat early.",
                "재발을 빨리 알 수 있도록 `mytriage check`를 모니터링에 두세요."
            )
        );
    }

    let _ = writeln!(
        md,
        "\n## {}\n",
        t("Appendix: statements", "부록: 실행된 문장")
    );
    for (n, s) in snapshots.iter().enumerate() {
        let _ = writeln!(
            md,
            "A{}. {} {} ({}@{})\n\n```sql\n{}\n```\n",
            n + 1,
            t("session", "세션"),
            s.pid,
            text(s.thread.user.as_deref()),
            text(s.thread.host.as_deref()),
            shown(statement(s))
        );
    }
    for (n, d) in deadlocks.iter().enumerate() {
        for x in d.deadlock.iter().flat_map(|d| &d.transactions) {
            let _ = writeln!(
                md,
                "D{}. {} {}\n\n```sql\n{}\n```\n",
                n + 1,
                t("deadlock, thread", "교착 상태, 스레드"),
                number(x.thread_id),
                shown(x.query.as_deref())
            );
        }
    }
    for (n, trouble) in replicas.iter().enumerate() {
        md.push_str(&trouble.appendix(n + 1, ko, &shown, keep_literals));
    }
    md
}

/// When a recorded deadlock happened: as InnoDB printed it, or as the error log logged it.
pub(super) fn deadlock_time(record: &DeadlockRecord) -> String {
    record
        .deadlock
        .as_ref()
        .and_then(|d| d.detected_at.as_deref())
        .or(record.logged.as_ref().map(|l| l.logged.as_str()))
        .unwrap_or("?")
        .to_owned()
}

/// A kill in a few words, for the timeline.
pub(super) fn outcome_label(outcome: &KillOutcome, ko: bool) -> String {
    let pid = outcome.pid;
    let after = outcome.after.as_ref().map(|a| a.state);
    match (outcome.result, after, ko) {
        (KillResult::Killed, Some(AfterState::Gone), false) => format!("kill {pid}: ended"),
        (KillResult::Killed, Some(AfterState::Gone), true) => format!("세션 {pid} 종료됨"),
        (KillResult::Killed, _, false) => format!("kill {pid}: rolling back"),
        (KillResult::Killed, _, true) => format!("세션 {pid} 종료, 되돌리는 중"),
        (KillResult::DryRun, _, false) => format!("dry run {pid}"),
        (KillResult::DryRun, _, true) => format!("시험 실행 {pid}"),
        (KillResult::Changed, _, false) => format!("kill {pid} refused: changed"),
        (KillResult::Changed, _, true) => format!("종료 안 함 {pid}: 바뀜"),
        (KillResult::NotConfirmed, _, false) => format!("kill {pid} not confirmed"),
        (KillResult::NotConfirmed, _, true) => format!("종료 미확인 {pid}"),
        (KillResult::Failed, _, false) => format!("kill {pid} failed"),
        (KillResult::Failed, _, true) => format!("종료 실패 {pid}"),
    }
}

pub(super) fn outcome_text(outcome: &KillOutcome, ko: bool) -> String {
    let after = outcome.after.as_ref();
    let rows_left = number(after.and_then(|a| a.rows_left));
    let error = text(outcome.error.as_deref());
    match (outcome.result, after.map(|a| a.state)) {
        (KillResult::Killed, Some(AfterState::Gone)) if ko => {
            "세션이 종료되었고 잠금이 풀렸습니다.".to_owned()
        }
        (KillResult::Killed, Some(AfterState::Gone)) => {
            "the session ended and its locks were released.".to_owned()
        }
        (KillResult::Killed, _) if ko => {
            format!("종료 요청됨, 변경 내용을 되돌리는 중({rows_left}행 남음).")
        }
        (KillResult::Killed, _) => {
            format!("kill sent; the session was undoing its changes ({rows_left} rows left).")
        }
        (KillResult::Changed, _) if ko => {
            "대상이 스냅숏 이후 바뀌어 종료하지 않았습니다.".to_owned()
        }
        (KillResult::Changed, _) => {
            "not ended: the session had changed since the snapshot.".to_owned()
        }
        (KillResult::DryRun, _) if ko => "시험 실행(종료하지 않음).".to_owned(),
        (KillResult::DryRun, _) => "dry run, nothing ended.".to_owned(),
        (KillResult::NotConfirmed, _) if ko => "확인되지 않아 종료하지 않았습니다.".to_owned(),
        (KillResult::NotConfirmed, _) => "not confirmed, nothing ended.".to_owned(),
        (KillResult::Failed, _) if ko => format!("실패: {error}"),
        (KillResult::Failed, _) => format!("failed: {error}"),
    }
}
