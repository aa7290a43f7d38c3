//! `mytriage incident notice`: the first "we know, we're on it" message to a channel, in Korean
//! or English, from the current status: what is wrong, and who holds the locks if someone does.

use serde::Serialize;
use serde_json::{Value, json};

use super::Style;
use crate::probe::locks::LocksReport;
use crate::render::{Block, Report, View, ViewOptions, account};
use crate::verdict::Verdict;
use crate::workflow::report::Lang;
use crate::workflow::status::StatusReport;

/// What `incident notice` posted.
#[derive(Debug, Serialize)]
pub(crate) struct Notice {
    pub verdict: Verdict,
    pub server: String,
    pub text: String,
    pub posted: bool,
}

impl Report for Notice {
    fn view(&self, _: &ViewOptions) -> View {
        View {
            blocks: vec![Block::Note(self.text.clone())],
        }
    }
}

/// The message, in `lang`.
pub(crate) fn text(report: &StatusReport, server: &str, lang: Lang) -> String {
    let verdict = report.verdict.label();
    let blocker = report
        .triage
        .locks
        .as_ref()
        .and_then(LocksReport::first_root);
    let finding = report
        .findings
        .iter()
        .find(|f| f.verdict == report.verdict && f.verdict != Verdict::Ok);
    match lang {
        Lang::En => {
            let cause = match (blocker, finding) {
                (Some(root), _) => {
                    let who = account(root.info.user.as_deref(), root.info.host.as_deref());
                    let state = if root.info.idle_in_trx {
                        format!(
                            "idle in its transaction for {}s",
                            root.info.trx_age_s.unwrap_or(0)
                        )
                    } else {
                        "running".to_owned()
                    };
                    match LocksReport::inferred_by(root) {
                        None => format!(
                            "Session {} ({who}), {state}, holds locks that {} session(s) wait for.",
                            root.info.pid, root.waiters_total
                        ),
                        Some(source) => format!(
                            "Session {} ({who}), {state}, appears to hold locks that {} session(s) wait for (inferred from {source}, not read exactly).",
                            root.info.pid, root.waiters_total
                        ),
                    }
                }
                (None, Some(f)) => format!("{}: {}.", f.check, f.summary),
                (None, None) => "mytriage sees nothing wrong on the database right now.".to_owned(),
            };
            format!(
                "We know: {server} is {verdict}. {cause} We are on it; updates follow in this channel."
            )
        }
        Lang::Ko => {
            let cause = match (blocker, finding) {
                (Some(root), _) => {
                    let who = account(root.info.user.as_deref(), root.info.host.as_deref());
                    let state = if root.info.idle_in_trx {
                        format!(
                            "트랜잭션을 연 채 {}초째 유휴 상태로",
                            root.info.trx_age_s.unwrap_or(0)
                        )
                    } else {
                        "실행 중에".to_owned()
                    };
                    match LocksReport::inferred_by(root) {
                        None => format!(
                            "세션 {} ({who})이(가) {state} 락을 잡고 있어 {}개 세션이 대기 중입니다.",
                            root.info.pid, root.waiters_total
                        ),
                        Some(source) => format!(
                            "세션 {} ({who})이(가) {state} 락을 잡고 있는 것으로 보이며 {}개 세션이 대기 중입니다 ({source}에서 추정, 정확히 읽은 것은 아님).",
                            root.info.pid, root.waiters_total
                        ),
                    }
                }
                (None, Some(f)) => format!("확인된 문제: {}: {}.", f.check, f.summary),
                (None, None) => "현재 데이터베이스에서 문제가 보이지 않습니다.".to_owned(),
            };
            format!(
                "인지했습니다: {server} 상태 {verdict}. {cause} 대응 중이며, 진행 상황은 이 채널에 계속 알리겠습니다."
            )
        }
    }
}

/// The payload of a notice in `style`.
pub(crate) fn body(notice: &Notice, lang: Lang, style: Style) -> Value {
    match style {
        Style::Slack => json!({
            "text": notice.text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                "text": super::message::slack_escape(&notice.text)}}],
        }),
        Style::Json => json!({
            "source": "mytriage",
            "by": "incident notice",
            "lang": match lang { Lang::Ko => "ko", Lang::En => "en" },
            "verdict": notice.verdict,
            "server": notice.server,
            "text": notice.text,
        }),
    }
}
