//! A pure parser for the text of `SHOW ENGINE INNODB STATUS`: the `LATEST DETECTED DEADLOCK`
//! section and the history list length.
//!
//! Three layouts of the deadlock section exist, all handled by one line-oriented state machine:
//!
//! * MySQL 5.7 layout (also MySQL 8.0.0–8.0.17 and MariaDB up to 10.5): exactly two
//!   transactions; `*** (1) WAITING FOR THIS LOCK TO BE GRANTED:` for the first,
//!   `*** (2) HOLDS THE LOCK(S):` and `*** (2) WAITING ...` for the second.
//! * MySQL 8.0.18+ layout: every transaction of the cycle, each with `*** (N) HOLDS THE LOCK(S):`
//!   and `*** (N) WAITING FOR THIS LOCK TO BE GRANTED:`.
//! * MariaDB 10.6+ layout: every transaction of the cycle, each with an unnumbered
//!   `*** WAITING FOR THIS LOCK TO BE GRANTED:` and `*** CONFLICTING WITH:`, where the latter lists
//!   the granted locks in the queue, which belong to *other* transactions (and sometimes to the
//!   waiter itself); each is credited to its owner by the `trx id` printed on its line.
//!
//! The input may come from anywhere (a live server, a paste, a 1 MB-capped status that cuts the
//! section mid-way), so nothing here trusts the text: every number is parsed fallibly, every
//! index is checked, and unknown input yields `None` instead of a panic.

use std::collections::HashSet;

use serde::Serialize;

/// Which printing code produced the deadlock section. This is the layout, not the vendor:
/// MariaDB up to 10.5 and MySQL 8.0 before 8.0.18 print the 5.7 layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum DeadlockFormat {
    /// Two transactions, `HOLDS THE LOCK(S)` only for the second.
    #[serde(rename = "mysql-5.7")]
    MySql57,
    /// Every transaction of the cycle, each with `HOLDS` and `WAITING FOR`.
    #[serde(rename = "mysql-8")]
    MySql8,
    /// Every transaction of the cycle, each with `WAITING FOR` and `CONFLICTING WITH`.
    #[serde(rename = "mariadb")]
    MariaDb,
}

/// The latest deadlock InnoDB recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Deadlock {
    /// Date and time from the line under the section header, e.g. `2026-11-22 02:10:11`
    /// (the thread handle that follows it is dropped).
    pub detected_at: Option<String>,
    /// The printing layout.
    pub format: DeadlockFormat,
    /// The transactions in printed order, `(1)`, `(2)`, ...
    pub transactions: Vec<DeadlockTrx>,
    /// The `number` of the transaction InnoDB rolled back, when it can be told reliably; see
    /// `resolve_victim` for the rules (MariaDB has printed wrong numbers).
    pub victim: Option<u32>,
    /// The number exactly as printed in `*** WE ROLL BACK TRANSACTION (N)`, right or wrong.
    pub victim_reported: Option<u32>,
}

/// One transaction of the deadlock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DeadlockTrx {
    /// The number printed as `*** (N) TRANSACTION:`; the position for an unnumbered one.
    pub number: u32,
    /// InnoDB transaction id (`TRANSACTION 19896, ACTIVE ...`).
    pub trx_id: Option<u64>,
    /// Connection id (`MySQL thread id` / `MariaDB thread id`), as in the processlist.
    pub thread_id: Option<u64>,
    /// Query id of the statement being run.
    pub query_id: Option<u64>,
    /// Account user name.
    pub user: Option<String>,
    /// Client host as the server recorded it (`localhost`, a host name or an IP); when a host
    /// name is followed by the client IP, the name is kept.
    pub host: Option<String>,
    /// Seconds the transaction had been active.
    pub active_secs: Option<u64>,
    /// `N lock struct(s)`.
    pub lock_structs: Option<u64>,
    /// `N row lock(s)`.
    pub row_locks: Option<u64>,
    /// `undo log entries N` (absent when zero).
    pub undo_entries: Option<u64>,
    /// The statement, possibly multi-line, as printed (InnoDB cuts it at about 3000 bytes).
    pub query: Option<String>,
    /// Locks the transaction holds that matter to the deadlock: MySQL's `(N) HOLDS THE LOCK(S)`
    /// (none for the first transaction of the 5.7 layout, which does not print them); on MariaDB
    /// the locks carrying this transaction's id in any `CONFLICTING WITH` block, each lock once.
    pub holds: Vec<LockInfo>,
    /// The lock it was waiting for (`WAITING FOR THIS LOCK TO BE GRANTED`).
    pub waits_for: Vec<LockInfo>,
}

/// One record or table lock line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LockInfo {
    /// `RECORD` or `TABLE`.
    pub lock_type: String,
    /// `db.table` with the identifier quotes removed.
    pub table: Option<String>,
    /// Index name for record locks.
    pub index: Option<String>,
    /// The mode as InnoDB prints it, without `waiting`: `X locks rec but not gap`, `S`, `IX`,
    /// `X locks gap before rec insert intention`, ...
    pub mode: String,
    /// Whether the line ended in `waiting`.
    pub waiting: bool,
}

/// Parses the `LATEST DETECTED DEADLOCK` section; `None` when there is none (or no
/// transaction could be read from it).
pub(crate) fn parse_latest_deadlock(status: &str) -> Option<Deadlock> {
    let lines = split_lines(status);
    let (start, end) = deadlock_section(&lines)?;
    let mut parser = SectionParser::default();
    for line in &lines[start..end] {
        parser.feed(line);
    }
    let alive = alive_trx_ids(&lines[end..]);
    parser.finish(&alive)
}

/// `History list length N` from the TRANSACTIONS section (the purge backlog).
pub(crate) fn history_list_length(status: &str) -> Option<u64> {
    let lines = split_lines(status);
    // Start at the TRANSACTIONS header when there is one, so that a statement quoted in an
    // earlier section can never be mistaken for the counter.
    let from = (0..lines.len())
        .find(|&i| is_header_at(&lines, i) && lines[i + 1].text.trim() == "TRANSACTIONS")
        .unwrap_or(0);
    lines[from..].iter().find_map(|line| {
        let rest = line.text.trim().strip_prefix("History list length")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// One line of the input. `complete` is false for the last line of a text that does not end
/// in a newline: a status cut at the 1 MB cap (or by a test) may have lost part of it.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    text: &'a str,
    complete: bool,
}

/// One session's transaction in the TRANSACTIONS section's per-session list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionTrx {
    /// The connection id (`MySQL thread id N` / `MariaDB thread id N`).
    pub thread_id: u64,
    /// The transaction id; `None` for MariaDB's read-only transactions, printed by address.
    pub trx_id: Option<u64>,
    /// `ACTIVE N sec`.
    pub active_s: Option<u64>,
    /// `Trx read view will not see trx with id >= X`: the view's low limit X, when it has one.
    pub read_view_low_limit: Option<u64>,
    /// `undo log entries N`: it has written, so it is a read-write transaction.
    pub undo_entries: u64,
}

/// The per-session transactions that are running (`ACTIVE`), with their read views. MariaDB
/// prints a read view next to each session; MySQL 8+ prints none.
pub(crate) fn session_transactions(status: &str) -> Vec<SessionTrx> {
    let Some((_, list)) = status.split_once("LIST OF TRANSACTIONS FOR EACH SESSION:") else {
        return Vec::new();
    };
    let list = list.split("\n--------").next().unwrap_or(list);
    list.split("---TRANSACTION ")
        .skip(1)
        .filter_map(|block| {
            let head = block.lines().next()?;
            let (id, state) = head.split_once(", ")?;
            if !state.starts_with("ACTIVE") {
                return None;
            }
            let thread_id = block.lines().find_map(|line| {
                let (_, rest) = line.split_once(" thread id ")?;
                leading_number(rest)
            })?;
            Some(SessionTrx {
                thread_id,
                trx_id: id.trim().parse().ok(),
                active_s: active_secs(state),
                read_view_low_limit: block.lines().find_map(|line| {
                    leading_number(line.strip_prefix("Trx read view will not see trx with id >= ")?)
                }),
                undo_entries: block
                    .lines()
                    .find_map(|line| number_after(line, "undo log entries "))
                    .unwrap_or(0),
            })
        })
        .collect()
}

/// `Purge done for trx's n:o < N`: purge has removed the history of every transaction that
/// committed below N.
pub(crate) fn purge_done_below(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| leading_number(line.strip_prefix("Purge done for trx's n:o < ")?))
}

fn number_after(text: &str, phrase: &str) -> Option<u64> {
    let at = text.find(phrase)? + phrase.len();
    leading_number(&text[at..])
}

fn split_lines(status: &str) -> Vec<Line<'_>> {
    let mut lines: Vec<Line<'_>> = status
        .split('\n')
        .map(|text| Line {
            text: text.strip_suffix('\r').unwrap_or(text),
            complete: true,
        })
        .collect();
    if status.ends_with('\n') {
        // `split` yields an empty string after the final newline; it is not a line.
        lines.pop();
    } else if let Some(last) = lines.last_mut() {
        last.complete = false;
    }
    lines
}

fn is_dash_line(text: &str) -> bool {
    let text = text.trim_end();
    text.len() >= 3 && text.bytes().all(|b| b == b'-')
}

fn is_title_line(text: &str) -> bool {
    let text = text.trim_end();
    !text.is_empty()
        && text.bytes().any(|b| b.is_ascii_uppercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'/')
}

/// InnoDB frames every section title between two dash lines.
fn is_header_at(lines: &[Line<'_>], i: usize) -> bool {
    match lines.get(i..i.saturating_add(3)) {
        Some([a, b, c]) => is_dash_line(a.text) && is_title_line(b.text) && is_dash_line(c.text),
        _ => false,
    }
}

/// Line range of the deadlock section's body (after its header, up to the next header).
fn deadlock_section(lines: &[Line<'_>]) -> Option<(usize, usize)> {
    let title = lines
        .iter()
        .position(|l| l.text.trim() == "LATEST DETECTED DEADLOCK")?;
    let mut start = title + 1;
    if lines.get(start).is_some_and(|l| is_dash_line(l.text)) {
        start += 1;
    }
    let end = (start..lines.len())
        .find(|&i| is_header_at(lines, i) || lines[i].text.trim() == "END OF INNODB MONITOR OUTPUT")
        .unwrap_or(lines.len());
    Some((start, end))
}

/// The `*** ...` lines that structure the section.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Marker {
    /// `*** (N) TRANSACTION:`, or `*** TRANSACTION:` (5.7's "too deep" report).
    Transaction(Option<u32>),
    /// `*** (N) HOLDS THE LOCK(S):`
    Holds(u32),
    /// `*** (N) WAITING FOR THIS LOCK TO BE GRANTED:`, or unnumbered (MariaDB 10.6+).
    Waiting(Option<u32>),
    /// `*** CONFLICTING WITH:` (MariaDB 10.6+).
    Conflicting,
    /// `*** WE ROLL BACK TRANSACTION (N)`; `None` when the number is unreadable.
    RollBack(Option<u32>),
    /// Any other `*** ` line: a layout we do not know; its content is skipped.
    Unknown,
}

/// Every line starting with `*** ` is structural, even an unknown one: a statement line that
/// starts that way would end the statement early, which beats reading a lock block as SQL.
fn marker(text: &str) -> Option<Marker> {
    let rest = text.trim().strip_prefix("*** ")?.trim();
    let known = match rest {
        "TRANSACTION:" => Marker::Transaction(None),
        "WAITING FOR THIS LOCK TO BE GRANTED:" => Marker::Waiting(None),
        "CONFLICTING WITH:" => Marker::Conflicting,
        _ => {
            if let Some(number) = rest.strip_prefix("WE ROLL BACK TRANSACTION") {
                Marker::RollBack(paren_number(number.trim()).map(|(n, _)| n))
            } else if let Some((n, after)) = paren_number(rest) {
                match after.trim() {
                    "TRANSACTION:" => Marker::Transaction(Some(n)),
                    "HOLDS THE LOCK(S):" => Marker::Holds(n),
                    "WAITING FOR THIS LOCK TO BE GRANTED:" => Marker::Waiting(Some(n)),
                    _ => Marker::Unknown,
                }
            } else {
                Marker::Unknown
            }
        }
    };
    Some(known)
}

/// `(12) rest` → `(12, " rest")`; the closing parenthesis guards against a truncated number.
fn paren_number(text: &str) -> Option<(u32, &str)> {
    let (number, after) = text.strip_prefix('(')?.split_once(')')?;
    Some((number.trim().parse().ok()?, after))
}

/// What the lines currently being read belong to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Block {
    /// Before the first transaction: the timestamp line.
    Preamble,
    /// The `trx_print` header of draft `i`, up to its thread line.
    TrxHead(usize),
    /// The statement of draft `i`.
    Query(usize),
    /// Lock lines held by draft `i` (MySQL's numbered HOLDS).
    Holds(usize),
    /// Lock lines draft `i` waits for.
    Waits(usize),
    /// Lock lines from MariaDB's CONFLICTING WITH: granted locks of any transaction.
    Conflicting,
    /// After the roll back line, or inside an unknown block.
    Skip,
}

/// A transaction being read, plus what is needed to finish it.
#[derive(Debug)]
struct Draft<'a> {
    trx: DeadlockTrx,
    query: Vec<&'a str>,
    /// Raw lock lines already credited to `holds`: MariaDB prints the same lock under several
    /// CONFLICTING WITH blocks, and one lock line is one lock struct.
    held_lines: HashSet<&'a str>,
}

impl Draft<'_> {
    fn new(number: u32) -> Self {
        Draft {
            trx: DeadlockTrx {
                number,
                trx_id: None,
                thread_id: None,
                query_id: None,
                user: None,
                host: None,
                active_secs: None,
                lock_structs: None,
                row_locks: None,
                undo_entries: None,
                query: None,
                holds: Vec::new(),
                waits_for: Vec::new(),
            },
            query: Vec::new(),
            held_lines: HashSet::new(),
        }
    }
}

#[derive(Debug)]
struct SectionParser<'a> {
    block: Block,
    detected_at: Option<String>,
    drafts: Vec<Draft<'a>>,
    /// Locks from CONFLICTING WITH, credited to their owners once every transaction is known.
    conflicting: Vec<(Option<u64>, LockInfo, &'a str)>,
    victim_reported: Option<u32>,
    /// The roll back line was seen, so every transaction was printed.
    complete: bool,
    /// 5.7's "TOO DEEP OR LONG SEARCH" report: one transaction, named as the victim in prose.
    too_deep: bool,
    saw_conflicting: bool,
    saw_unnumbered_waiting: bool,
    saw_mariadb_thread: bool,
    /// A numbered WAITING came for a transaction that had no HOLDS before it: only the 5.7
    /// layout prints the first transaction that way.
    waiting_before_holds: bool,
    holds_for_first: bool,
}

impl Default for SectionParser<'_> {
    fn default() -> Self {
        SectionParser {
            block: Block::Preamble,
            detected_at: None,
            drafts: Vec::new(),
            conflicting: Vec::new(),
            victim_reported: None,
            complete: false,
            too_deep: false,
            saw_conflicting: false,
            saw_unnumbered_waiting: false,
            saw_mariadb_thread: false,
            waiting_before_holds: false,
            holds_for_first: false,
        }
    }
}

impl<'a> SectionParser<'a> {
    fn draft_index(&self, number: u32) -> Option<usize> {
        self.drafts.iter().position(|d| d.trx.number == number)
    }

    fn feed(&mut self, line: &Line<'a>) {
        if let Some(marker) = marker(line.text) {
            self.on_marker(marker);
            return;
        }
        match self.block {
            Block::Preamble => {
                // ut_print_timestamp() writes no newline, so 5.7's "too deep" prose is glued
                // to the timestamp line.
                if line
                    .text
                    .contains("TOO DEEP OR LONG SEARCH IN THE LOCK TABLE")
                {
                    self.too_deep = true;
                }
                if self.detected_at.is_none() && line.complete {
                    self.detected_at = timestamp(line.text);
                }
            }
            Block::TrxHead(i) => {
                if line.complete {
                    self.on_header_line(i, line.text);
                }
            }
            Block::Query(i) => {
                // Even a cut last line is worth keeping: the statement is already incomplete.
                if let Some(draft) = self.drafts.get_mut(i) {
                    draft.query.push(line.text);
                }
            }
            Block::Holds(i) | Block::Waits(i) => {
                if let Some(lock) = line.complete.then(|| parse_lock(line.text)).flatten() {
                    let raw = line.text.trim();
                    if let Some(draft) = self.drafts.get_mut(i) {
                        if matches!(self.block, Block::Waits(_)) {
                            draft.trx.waits_for.push(lock.info);
                        } else if draft.held_lines.insert(raw) {
                            draft.trx.holds.push(lock.info);
                        }
                    }
                }
            }
            Block::Conflicting => {
                if let Some(lock) = line.complete.then(|| parse_lock(line.text)).flatten() {
                    self.conflicting
                        .push((lock.owner_trx_id, lock.info, line.text.trim()));
                }
            }
            Block::Skip => {}
        }
    }

    fn on_marker(&mut self, marker: Marker) {
        self.block = match marker {
            Marker::Transaction(number) => {
                let number = number
                    .unwrap_or_else(|| u32::try_from(self.drafts.len() + 1).unwrap_or(u32::MAX));
                self.drafts.push(Draft::new(number));
                Block::TrxHead(self.drafts.len() - 1)
            }
            Marker::Holds(n) => {
                if self.drafts.first().is_some_and(|d| d.trx.number == n) {
                    self.holds_for_first = true;
                }
                self.draft_index(n).map_or(Block::Skip, Block::Holds)
            }
            Marker::Waiting(Some(n)) => match self.draft_index(n) {
                Some(i) => {
                    if i == 0 && !self.holds_for_first {
                        self.waiting_before_holds = true;
                    }
                    Block::Waits(i)
                }
                None => Block::Skip,
            },
            Marker::Waiting(None) => {
                // MariaDB 10.6+ (numbered transactions) or 5.7's "too deep" report.
                if !self.too_deep {
                    self.saw_unnumbered_waiting = true;
                }
                self.current().map_or(Block::Skip, Block::Waits)
            }
            Marker::Conflicting => {
                self.saw_conflicting = true;
                Block::Conflicting
            }
            Marker::RollBack(number) => {
                self.victim_reported = number;
                self.complete = true;
                Block::Skip
            }
            Marker::Unknown => Block::Skip,
        };
    }

    fn current(&self) -> Option<usize> {
        self.drafts.len().checked_sub(1)
    }

    /// The `trx_print_low()` lines above the statement.
    fn on_header_line(&mut self, i: usize, text: &str) {
        let text = text.trim();
        let Some(draft) = self.drafts.get_mut(i) else {
            return;
        };
        let trx = &mut draft.trx;
        if let Some(rest) = text.strip_prefix("TRANSACTION ") {
            // "TRANSACTION 19896, ACTIVE 2 sec starting index read"
            let (id, state) = rest.split_once(',').unwrap_or((rest, ""));
            trx.trx_id = id.trim().parse().ok();
            trx.active_secs = active_secs(state);
        } else if text.contains(" lock struct(s)") {
            // "LOCK WAIT 3 lock struct(s), heap size 1128, 2 row lock(s), undo log entries 1"
            trx.lock_structs = number_before(text, " lock struct(s)");
            trx.row_locks = number_before(text, " row lock(s)");
            trx.undo_entries = text
                .split_once("undo log entries ")
                .and_then(|(_, n)| leading_number(n));
        } else if let Some(rest) = text
            .strip_prefix("MySQL thread id ")
            .or_else(|| text.strip_prefix("MariaDB thread id "))
        {
            if text.starts_with("MariaDB") {
                self.saw_mariadb_thread = true;
            }
            parse_thread_line(rest, trx);
            self.block = Block::Query(i);
        }
    }

    fn finish(mut self, alive: &HashSet<u64>) -> Option<Deadlock> {
        if self.drafts.is_empty() {
            return None;
        }
        // Credit every lock from CONFLICTING WITH to the printed transaction that owns it. A
        // lock of a transaction outside the cycle is not part of the deadlock and is dropped.
        for (owner, info, raw) in std::mem::take(&mut self.conflicting) {
            let Some(owner) = owner else { continue };
            if let Some(draft) = self.drafts.iter_mut().find(|d| d.trx.trx_id == Some(owner))
                && draft.held_lines.insert(raw)
            {
                draft.trx.holds.push(info);
            }
        }
        let format = self.format();
        let transactions: Vec<DeadlockTrx> = self
            .drafts
            .into_iter()
            .map(|mut draft| {
                draft.trx.query = join_query(&draft.query);
                draft.trx
            })
            .collect();
        let victim = resolve_victim(
            format,
            &transactions,
            self.victim_reported,
            self.complete,
            self.too_deep,
            alive,
        );
        Some(Deadlock {
            detected_at: self.detected_at,
            format,
            transactions,
            victim,
            victim_reported: self.victim_reported,
        })
    }

    fn format(&self) -> DeadlockFormat {
        if self.too_deep {
            // Only the pre-8.0.18 DeadlockChecker (MySQL 5.7 layout) gives up on deep searches.
            DeadlockFormat::MySql57
        } else if self.saw_conflicting || self.saw_unnumbered_waiting {
            DeadlockFormat::MariaDb
        } else if self.holds_for_first || self.drafts.len() > 2 {
            DeadlockFormat::MySql8
        } else if self.waiting_before_holds {
            DeadlockFormat::MySql57
        } else if self.saw_mariadb_thread {
            // Cut before any lock block: MariaDB's own thread line is the only hint left.
            DeadlockFormat::MariaDb
        } else {
            DeadlockFormat::MySql8
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or 5.5's `YYMMDD HH:MM:SS`) from the head of a line.
fn timestamp(text: &str) -> Option<String> {
    let mut words = text.split_whitespace();
    let date = words.next()?;
    let time = words.next()?;
    let date_ok = date.len() >= 6
        && date.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        && date.bytes().next().is_some_and(|b| b.is_ascii_digit());
    // Keep HH:MM:SS should fractional seconds ever follow.
    let time = time.get(..8).unwrap_or(time);
    let time_ok = time.len() == 8
        && time.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    (date_ok && time_ok).then(|| format!("{date} {time}"))
}

/// `" ACTIVE 2 sec starting index read"` or `" ACTIVE (PREPARED) 5 sec"` → seconds.
fn active_secs(state: &str) -> Option<u64> {
    let after = state.split_once("ACTIVE")?.1;
    let words: Vec<&str> = after.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1] == "sec")
        .and_then(|w| w[0].parse().ok())
}

/// The number right before `phrase`: `number_before("3 lock struct(s)", " lock struct(s)")`.
fn number_before(text: &str, phrase: &str) -> Option<u64> {
    let before = text.split_once(phrase)?.0;
    before.split_whitespace().last()?.parse().ok()
}

/// Digits at the start of `text`, which must be followed by a non-digit or the end.
fn leading_number(text: &str) -> Option<u64> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.get(..end)?.parse().ok()
}

/// `"719, OS thread handle 1399..., query id 12616 localhost 127.0.0.1 root updating"`: the
/// tail after the query id is `[host] [ip] [user] [state...]`, each part optional
/// (`thd_security_context()`), so the parts are told apart by their shape.
fn parse_thread_line(rest: &str, trx: &mut DeadlockTrx) {
    let (thread, after) = rest.split_once(',').unwrap_or((rest, ""));
    trx.thread_id = thread.trim().parse().ok();
    let Some((_, query)) = after.split_once("query id ") else {
        return;
    };
    let end = query
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(query.len());
    trx.query_id = query.get(..end).and_then(|n| n.parse().ok());
    let tail = query.get(end..).unwrap_or("");
    let words: Vec<&str> = tail.split_whitespace().collect();
    if words.first() == Some(&"system") && words.get(1) == Some(&"user") {
        // Replication threads.
        trx.user = Some("system user".to_string());
        return;
    }
    let Some(&first) = words.first() else { return };
    let ip_follows = words.get(1).is_some_and(|w| is_ip(w));
    // A capitalised first word not followed by an address is a thread state ("Waiting for
    // ...", "Applying batch ..."): threads without a client print no host and no user.
    if !ip_follows && first.starts_with(|c: char| c.is_ascii_uppercase()) && !is_ip(first) {
        return;
    }
    trx.host = Some(first.to_string());
    let user_at = if ip_follows { 2 } else { 1 };
    trx.user = words.get(user_at).map(|w| (*w).to_string());
}

fn is_ip(word: &str) -> bool {
    let v4 = {
        let parts: Vec<&str> = word.split('.').collect();
        parts.len() == 4
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let v6 = word.contains(':')
        && word
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    v4 || v6
}

/// A parsed lock line and the transaction id printed on it.
#[derive(Debug)]
struct ParsedLock {
    info: LockInfo,
    owner_trx_id: Option<u64>,
}

/// `RECORD LOCKS space id 10 page no 4 n bits 72 index PRIMARY of table `db`.`t` trx id 19896
/// lock_mode X locks rec but not gap waiting` or `TABLE LOCK table `db`.`t` trx id 5 lock mode
/// IX`. Anything else (the record dumps under a lock line) is `None`.
fn parse_lock(text: &str) -> Option<ParsedLock> {
    let text = text.trim();
    let (lock_type, table_part, index) = if let Some(rest) = text.strip_prefix("RECORD LOCKS ") {
        let (before, table_part) = rest.split_once(" of table ")?;
        let index = before.split_once(" index ").map(|(_, i)| unquote(i.trim()));
        ("RECORD", table_part, index)
    } else if let Some(rest) = text.strip_prefix("TABLE LOCK table ") {
        ("TABLE", rest, None)
    } else {
        return None;
    };
    let (table, after) = table_part.split_once(" trx id ")?;
    let end = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    let owner_trx_id = after.get(..end).and_then(|n| n.parse().ok());
    let mut mode = after.get(end..).unwrap_or("").trim();
    // 5.7 prints "lock mode S" but "lock_mode X"; MariaDB the same.
    for prefix in ["lock_mode", "lock mode"] {
        if let Some(m) = mode.strip_prefix(prefix) {
            mode = m.trim_start();
            break;
        }
    }
    let (mode, waiting) = match mode.strip_suffix("waiting") {
        Some(m) if m.is_empty() || m.ends_with(' ') => (m.trim_end(), true),
        _ => (mode, false),
    };
    if mode.is_empty() {
        return None;
    }
    Some(ParsedLock {
        info: LockInfo {
            lock_type: lock_type.to_string(),
            table: Some(unquote(table.trim())),
            index,
            mode: mode.to_string(),
            waiting,
        },
        owner_trx_id,
    })
}

/// Removes identifier quotes: `` `db`.`t` `` → `db.t`, a doubled quote inside a name → one.
fn unquote(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if chars.peek() == Some(&'`') {
                out.push('`');
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn join_query(lines: &[&str]) -> Option<String> {
    let joined = lines.join("\n");
    // MySQL 8 leaves a blank line between the statement and the next marker.
    let query = joined.trim_end().trim_start_matches('\n');
    (!query.trim().is_empty()).then(|| crate::redact::credentials(query.to_string()))
}

/// Ids at or above 2^48 are not transaction ids: InnoDB prints a pointer-derived number for
/// transactions that never wrote, and the same number again for the next transaction of that
/// connection, so such an id says nothing about whether a transaction is still running.
const FIRST_FAKE_TRX_ID: u64 = 1 << 48;

/// Real transaction ids listed as running (`---TRANSACTION N, ACTIVE ...`) in the part of the
/// status after the deadlock section, leaving out any that are being rolled back.
fn alive_trx_ids(lines: &[Line<'_>]) -> HashSet<u64> {
    let mut alive = HashSet::new();
    let mut i = 0;
    while i < lines.len() {
        let text = lines[i].text.trim();
        i += 1;
        let Some(rest) = text.strip_prefix("---TRANSACTION ") else {
            continue;
        };
        let Some((id, state)) = rest.split_once(',') else {
            continue;
        };
        let Ok(id) = id.trim().parse::<u64>() else {
            continue;
        };
        let mut rolling_back = state.contains("rollback") || state.contains("ROLLING BACK");
        while let Some(next) = lines.get(i).map(|l| l.text.trim())
            && !next.starts_with("---TRANSACTION ")
            && !is_header_at(lines, i)
        {
            rolling_back |= next.starts_with("ROLLING BACK");
            i += 1;
        }
        if id < FIRST_FAKE_TRX_ID && state.contains("ACTIVE") && !rolling_back {
            alive.insert(id);
        }
    }
    alive
}

/// Decides which printed transaction was rolled back.
///
/// MySQL's number is reliable: the 5.7 layout prints fixed strings for its two roles and 8.0.18+
/// prints the victim's position in the printed cycle. MariaDB 10.6+ is not:
///
/// * 10.6.0 up to the fix of MDEV-29187 (MariaDB/server PR #2208, 2022) always printed `(0)`.
/// * From that fix until MDEV-37977 (MariaDB/server PR #4679, merged 2026) `Deadlock::report()`
///   numbered its victim search from the cycle's closing transaction while the display starts
///   right after it, so the printed number is one too high: display position `k` was reported
///   as `k + 1`, and the last one (`N`) as `1`, or `N + 1` when re-chosen at the end of the loop.
///   With two transactions the two numbers are simply swapped.
/// * Later releases (the 10.11.19 on our test machine among them) print the right number.
///
/// Nothing in the text says which release printed it, so the rules, in order:
///
/// 1. 5.7's "too deep" report names its only transaction as the one rolled back.
/// 2. Observation: the victim was rolled back, and transaction ids are never reused, so its id
///    cannot be listed as running in the TRANSACTIONS section. When all but one printed
///    transaction are still listed as running, the remaining one is the victim, whatever the
///    number says. (Only when the roll back line was seen, so that no transaction is missing.)
/// 3. MySQL layouts: the reported number, unless that transaction is listed as still running.
/// 4. MariaDB layout: `N + 1` can only come from the off-by-one code and means `N`. Otherwise the
///    number is accepted only when it agrees with a replay of MariaDB's own victim choice (the
///    lightest transaction by undo entries + lock structs, ties going to the transaction that
///    ran the detection, see `mariadb_expected_victim`) read either as a correct number or as
///    the off-by-one number. Anything else — `(0)`, or a number that matches neither reading
///    (possible when non-transactional tables, Galera or parallel replication tilt the choice) —
///    gives `None`. With two transactions the two readings cover both numbers, so there the
///    printed number cannot tell a fixed server from an off-by-one one and the answer rests on
///    the replay alone; that is still right more often than the literal number, which every
///    release between the two fixes printed swapped.
fn resolve_victim(
    format: DeadlockFormat,
    trxs: &[DeadlockTrx],
    reported: Option<u32>,
    complete: bool,
    too_deep: bool,
    alive: &HashSet<u64>,
) -> Option<u32> {
    if too_deep {
        return match trxs {
            [only] => Some(only.number),
            _ => None,
        };
    }
    if !complete {
        return None;
    }
    let is_alive = |t: &DeadlockTrx| t.trx_id.is_some_and(|id| alive.contains(&id));
    let not_alive: Vec<u32> = trxs
        .iter()
        .filter(|t| !is_alive(t))
        .map(|t| t.number)
        .collect();
    if let [only] = not_alive.as_slice() {
        return Some(*only);
    }
    let reported = reported?;
    let plausible = |n: u32| not_alive.contains(&n).then_some(n);
    match format {
        DeadlockFormat::MySql57 | DeadlockFormat::MySql8 => plausible(reported),
        DeadlockFormat::MariaDb => {
            let n = u32::try_from(trxs.len()).ok()?;
            // Position arithmetic needs the printed numbers to be exactly 1..=N.
            if trxs.iter().zip(1..).any(|(t, i)| t.number != i) {
                return None;
            }
            if n >= 2 && reported == n + 1 {
                return plausible(n);
            }
            let expected = mariadb_expected_victim(trxs)?;
            let off_by_one = if expected == n { 1 } else { expected + 1 };
            if reported == expected || reported == off_by_one {
                plausible(expected)
            } else {
                None
            }
        }
    }
}

/// Replays MariaDB 10.6+'s `Deadlock::report()` choice on the printed numbers: the victim has
/// the smallest `TRX_WEIGHT` (undo log entries + lock structs, both printed), ties going to the
/// transaction that ran the check, then to the first in display order. The checking transaction
/// is not marked in the text, but its display position follows from the cycle length alone: the
/// display starts after the node where Brent's cycle detection (`find_cycle()`) stops.
fn mariadb_expected_victim(trxs: &[DeadlockTrx]) -> Option<u32> {
    let n = trxs.len();
    let checker = checker_position(n)?;
    let mut best: Option<(u64, u32)> = None;
    for (pos, t) in (1..).zip(trxs) {
        let weight = t
            .lock_structs?
            .checked_add(t.undo_entries.unwrap_or(0))?
            .checked_mul(2)?
            | u64::from(pos != checker);
        if best.is_none_or(|(w, _)| weight < w) {
            best = Some((weight, t.number));
        }
    }
    best.map(|(_, number)| number)
}

/// Display position (1-based) of the transaction that ran the deadlock check, for a cycle of
/// `n` transactions: replays `Deadlock::find_cycle()` on a ring where node 0 is the checker and
/// node `i` waits for node `i + 1`, then counts from the node after the one it returns.
fn checker_position(n: usize) -> Option<u32> {
    // A real report has a handful of transactions; bound the replay all the same.
    if n == 0 || n > 100_000 {
        return None;
    }
    let (mut tortoise, mut hare) = (0usize, 0usize);
    let (mut power, mut l) = (1usize, 1usize);
    let cycle = loop {
        hare = (hare + 1) % n;
        if tortoise == hare {
            break hare;
        }
        if l == power {
            power = power.checked_mul(2)?;
            l = 0;
            tortoise = hare;
        }
        l += 1;
    };
    // Display order is cycle+1, cycle+2, ..., cycle; node 0 sits at position (n - cycle).
    u32::try_from(if cycle == 0 { n } else { n - cycle }).ok()
}

#[cfg(test)]
mod tests;
