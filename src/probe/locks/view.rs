//! The blocker tree as a table: roots first, each waiter under what it waits for.

use super::tree::{self, How, Node, WaitInfo, WaitKind};
use super::{LockSession, LocksReport};
use crate::render::graph::{Graph, GraphEdge, GraphNode, Role};
use crate::render::{Block, Report, View, ViewOptions, now_or_last, serde_label};

impl Report for LocksReport {
    fn view(&self, options: &ViewOptions) -> View {
        let mut rows = Vec::new();
        let mut shown = std::collections::HashSet::new();
        for root in &self.forest.roots {
            flatten(root, 0, options.full, &mut shown, &mut rows);
        }
        for unknown in &self.unresolved {
            rows.push(vec![
                "?".to_owned(),
                "blocker unknown".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                format!("candidates: {}", unknown.candidate_pids()),
            ]);
            let node = Node {
                info: unknown.session.clone(),
                waiting_for: Some(Box::new(unknown.waiting_for.clone())),
                waiters_total: 0,
                waiters: Vec::new(),
            };
            flatten(&node, 1, options.full, &mut shown, &mut rows);
        }
        let mut blocks = Vec::new();
        if self.writes_frozen {
            blocks.push(Block::Note(
                "WRITES FROZEN: a global read lock or backup lock holds every writer".to_owned(),
            ));
        }
        if rows.is_empty() {
            blocks.push(Block::Note("No lock waits: nothing is blocked.".to_owned()));
        } else {
            let header = [
                "pid",
                "user@host",
                "trx age",
                "rows locked",
                "waits for",
                "waiting",
                "holds up",
                "statement",
            ];
            blocks.push(Block::Table {
                title: None,
                header: header.map(str::to_owned).to_vec(),
                rows,
            });
            blocks.push(Block::Note(format!(
                "{} root blocker(s), {} blocked session(s) (row locks: {}, metadata locks: {})",
                self.forest.roots.len(),
                self.forest.blocked_sessions,
                serde_label(&self.sources.row_locks),
                serde_label(&self.sources.metadata_locks)
            )));
        }
        for cycle in &self.forest.cycles {
            let pids: Vec<String> = cycle.iter().map(u64::to_string).collect();
            blocks.push(Block::Note(format!(
                "CYCLE (deadlock in progress): {}",
                pids.join(" ⇄ ")
            )));
        }
        if self.forest.truncated {
            blocks.push(Block::Note(format!(
                "tree cut at {} nodes; use --format json",
                tree::NODE_BUDGET
            )));
        }
        blocks.extend(self.notes.iter().map(|n| Block::Note(format!("note: {n}"))));
        View { blocks }
    }

    fn graph(&self) -> Option<Graph> {
        let mut graph = Graph::default();
        let mut seen = std::collections::HashSet::new();
        for root in &self.forest.roots {
            add_node(root, None, &mut seen, &mut graph);
        }
        for (n, unknown) in self.unresolved.iter().enumerate() {
            let id = format!("unknown{}", n + 1);
            graph.nodes.push(GraphNode {
                id: id.clone(),
                title: "blocker unknown".to_owned(),
                lines: vec![format!("candidates: {}", unknown.candidate_pids())],
                role: Role::Unknown,
            });
            let node = Node {
                info: unknown.session.clone(),
                waiting_for: Some(Box::new(unknown.waiting_for.clone())),
                waiters_total: 0,
                waiters: Vec::new(),
            };
            add_node(&node, Some(&id), &mut seen, &mut graph);
        }
        Some(graph)
    }
}

/// A node of the forest and its subtree; a session under several blockers is one node with an
/// edge from each.
fn add_node(
    node: &Node<LockSession>,
    parent: Option<&str>,
    seen: &mut std::collections::HashSet<u64>,
    graph: &mut Graph,
) {
    let info = &node.info;
    let id = format!("p{}", info.pid);
    if let (Some(parent), Some(wait)) = (parent, node.waiting_for.as_ref()) {
        graph.edges.push(GraphEdge {
            from: parent.to_owned(),
            to: id.clone(),
            label: format!(
                "{} ({})",
                describe_wait(wait).trim_end_matches(" (inferred)"),
                serde_label(&wait.how)
            ),
            inferred: wait.how == How::Inferred,
        });
    }
    if !seen.insert(info.pid) {
        return;
    }
    let mut lines = vec![crate::render::account(
        info.user.as_deref(),
        info.host.as_deref(),
    )];
    let trx = trx_cell(info);
    if !trx.is_empty() {
        lines.push(format!("trx {trx}"));
    }
    if node.waiters_total > 0 {
        lines.push(format!("holds up {}", node.waiters_total));
    }
    let statement = now_or_last(
        info.statement.as_deref(),
        info.last_statement.as_deref(),
        false,
    );
    if !statement.is_empty() {
        lines.push(statement);
    }
    graph.nodes.push(GraphNode {
        id: id.clone(),
        title: format!("session {}", info.pid),
        lines,
        role: if parent.is_none() {
            Role::Root
        } else {
            Role::Waiter
        },
    });
    for waiter in &node.waiters {
        add_node(waiter, Some(&id), seen, graph);
    }
}

/// One table row per node, indented by depth. A session that waits for several blockers is
/// drawn in full under the first and as a reference under the others.
fn flatten(
    node: &Node<LockSession>,
    depth: usize,
    full: bool,
    shown: &mut std::collections::HashSet<u64>,
    rows: &mut Vec<Vec<String>>,
) {
    let info = &node.info;
    let first_time = shown.insert(info.pid);
    let indent = if depth == 0 {
        String::new()
    } else {
        format!("{}└ ", "  ".repeat(depth - 1))
    };
    let who = crate::render::account(info.user.as_deref(), info.host.as_deref());
    let age = trx_cell(info);
    let waits = node
        .waiting_for
        .as_ref()
        .map(|w| describe_wait(w))
        .unwrap_or_default();
    let waiting = node
        .waiting_for
        .as_ref()
        .and_then(|w| w.wait_s)
        .map(|s| format!("{s}s"))
        .unwrap_or_default();
    let statement = if first_time {
        now_or_last(
            info.statement.as_deref(),
            info.last_statement.as_deref(),
            full,
        )
    } else {
        "(shown above)".to_owned()
    };
    rows.push(vec![
        format!("{indent}{}", info.pid),
        who,
        age,
        info.trx_rows_locked
            .map(|r| r.to_string())
            .unwrap_or_default(),
        waits,
        waiting,
        node.waiters_total.to_string(),
        statement,
    ]);
    if first_time {
        for child in &node.waiters {
            flatten(child, depth + 1, full, shown, rows);
        }
    }
}

/// A session's transaction as the tree shows it: its age, IDLE when it sits idle in it, or
/// ROLLING BACK with the rows left.
pub(crate) fn trx_cell(info: &LockSession) -> String {
    match (info.trx_age_s, info.idle_in_trx) {
        _ if info.rolling_back() => format!(
            "ROLLING BACK ({} rows left)",
            info.trx_rows_modified.unwrap_or(0)
        ),
        (Some(age), true) => format!("{age}s IDLE"),
        (Some(age), false) => format!("{age}s"),
        (None, _) => String::new(),
    }
}

/// What a waiter waits for, in a few words: the lock's kind, object and mode, marked when the
/// edge is inferred.
pub(crate) fn describe_wait(wait: &WaitInfo) -> String {
    let kind = match wait.kind {
        WaitKind::Row => "row",
        WaitKind::Metadata => "MDL",
        WaitKind::TableFlush => "flush",
    };
    let inferred = if wait.how == How::Inferred {
        " (inferred)"
    } else {
        ""
    };
    if let Some(held) = &wait.held {
        return format!("{kind}: {held}{inferred}");
    }
    let place = [wait.table.as_deref(), wait.index.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mode = wait.lock_mode.as_deref().unwrap_or("");
    format!("{kind} {place} {mode}{inferred}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
