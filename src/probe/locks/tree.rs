//! Turns "who waits for whom" edges into the blocker forest: root blockers first, ordered by how
//! many sessions they hold up (counted transitively), with cycles found and never looped on.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::Serialize;

/// The kind of lock a session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WaitKind {
    Row,
    Metadata,
    /// "Waiting for table flush": a FLUSH waits for sessions that hold the table open, and new
    /// users of the table wait for the FLUSH. No lock is pending anywhere.
    TableFlush,
}

/// How an edge is known: read from a lock table, or inferred from states, times and statements.
/// `kill --blockers` acts only on exact edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum How {
    Exact,
    Inferred,
}

/// What a waiter waits for, on the edge to one blocker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct WaitInfo {
    pub kind: WaitKind,
    /// The metadata-lock namespace (`TABLE`, `GLOBAL`, `BACKUP`, `USER LEVEL LOCK`, ...).
    pub object_type: Option<String>,
    /// `schema.table` (or the metadata-lock object).
    pub table: Option<String>,
    pub index: Option<String>,
    /// The mode the waiter asked for.
    pub lock_mode: Option<String>,
    /// The conflicting mode the blocker holds (or, for metadata locks, has queued).
    pub blocking_lock_mode: Option<String>,
    pub wait_s: Option<u64>,
    /// What the blocker holds, in plain words ("global read lock by FLUSH TABLES WITH READ
    /// LOCK", "user lock 'job'", "table flush").
    pub held: Option<String>,
    pub how: How,
    /// Where the edge was read: a table, or the rule it was inferred by.
    pub source: &'static str,
}

/// One waits-for edge.
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    pub waiter: u64,
    pub blocker: u64,
    pub wait: WaitInfo,
}

/// A session in the forest; `info` is whatever the caller knows about it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Node<I> {
    #[serde(flatten)]
    pub info: I,
    /// What this session waits for from its parent; `null` for a root.
    /// Boxed: a node is built on every level of a recursion as deep as the longest chain.
    pub waiting_for: Option<Box<WaitInfo>>,
    /// Distinct sessions held up by this one, directly or through others.
    pub waiters_total: usize,
    pub waiters: Vec<Node<I>>,
}

/// The blocker forest.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Forest<I> {
    pub roots: Vec<Node<I>>,
    /// Sessions that wait for each other in a circle (a deadlock in progress), each sorted.
    pub cycles: Vec<Vec<u64>>,
    /// Distinct sessions that wait for a lock.
    pub blocked_sessions: usize,
    /// True when the tree was cut at [`NODE_BUDGET`] nodes.
    pub truncated: bool,
}

/// The most nodes one forest renders; many multi-blocker waits could otherwise multiply it.
pub(crate) const NODE_BUDGET: usize = 20_000;

struct Graph<'a> {
    /// blocker → edges to its waiters, waiters ascending.
    children: BTreeMap<u64, Vec<&'a Edge>>,
}

impl Graph<'_> {
    fn waiters_total(&self, pid: u64) -> usize {
        let mut seen = HashSet::from([pid]);
        let mut stack = vec![pid];
        while let Some(current) = stack.pop() {
            for edge in self.children.get(&current).into_iter().flatten() {
                if seen.insert(edge.waiter) {
                    stack.push(edge.waiter);
                }
            }
        }
        seen.len() - 1
    }
}

/// Builds the forest. `describe` gives the node information for a session id.
pub(crate) fn build<I: Clone>(edges: &[Edge], describe: &dyn Fn(u64) -> I) -> Forest<I> {
    let mut unique = BTreeMap::new();
    for edge in edges {
        unique
            .entry((edge.blocker, edge.waiter, edge.wait.kind))
            .or_insert(edge);
    }
    let mut graph = Graph {
        children: BTreeMap::new(),
    };
    for ((blocker, _, _), edge) in &unique {
        graph.children.entry(*blocker).or_default().push(*edge);
    }
    let waiting: BTreeSet<u64> = unique.values().map(|e| e.waiter).collect();
    let cycles = cycles(&graph);

    let mut root_pids: Vec<u64> = graph
        .children
        .keys()
        .copied()
        .filter(|pid| !waiting.contains(pid))
        .collect();
    // A cycle nobody outside holds up would have no root: enter it at its smallest member.
    let reached = reachable(&graph, &root_pids);
    root_pids.extend(
        cycles
            .iter()
            .filter(|c| !c.iter().any(|p| reached.contains(p)))
            .map(|c| c[0]),
    );

    let mut budget = NODE_BUDGET;
    let mut truncated = false;
    let mut roots: Vec<Node<I>> = root_pids
        .iter()
        .map(|&pid| {
            grow(
                &graph,
                pid,
                None,
                &mut vec![],
                describe,
                &mut budget,
                &mut truncated,
            )
        })
        .collect();
    roots.sort_by_key(|node| std::cmp::Reverse(node.waiters_total));
    Forest {
        roots,
        cycles,
        blocked_sessions: waiting.len(),
        truncated,
    }
}

fn grow<I: Clone>(
    graph: &Graph<'_>,
    pid: u64,
    waiting_for: Option<&WaitInfo>,
    path: &mut Vec<u64>,
    describe: &dyn Fn(u64) -> I,
    budget: &mut usize,
    truncated: &mut bool,
) -> Node<I> {
    *budget = budget.saturating_sub(1);
    path.push(pid);
    let mut waiters = Vec::new();
    for edge in graph.children.get(&pid).into_iter().flatten() {
        if path.contains(&edge.waiter) {
            continue; // a cycle: shown in `cycles`, never followed
        }
        if *budget == 0 {
            *truncated = true;
            break;
        }
        waiters.push(grow(
            graph,
            edge.waiter,
            Some(&edge.wait),
            path,
            describe,
            budget,
            truncated,
        ));
    }
    path.pop();
    waiters.sort_by_key(|node| std::cmp::Reverse(node.waiters_total));
    Node {
        info: describe(pid),
        waiting_for: waiting_for.map(|w| Box::new(w.clone())),
        waiters_total: graph.waiters_total(pid),
        waiters,
    }
}

fn reachable(graph: &Graph<'_>, from: &[u64]) -> HashSet<u64> {
    let mut seen: HashSet<u64> = from.iter().copied().collect();
    let mut stack = from.to_vec();
    while let Some(current) = stack.pop() {
        for edge in graph.children.get(&current).into_iter().flatten() {
            if seen.insert(edge.waiter) {
                stack.push(edge.waiter);
            }
        }
    }
    seen
}

/// Strongly connected groups of two or more sessions (Tarjan, iterative so depth is no limit).
fn cycles(graph: &Graph<'_>) -> Vec<Vec<u64>> {
    let nodes: BTreeSet<u64> = graph
        .children
        .iter()
        .flat_map(|(blocker, edges)| {
            std::iter::once(*blocker).chain(edges.iter().map(|e| e.waiter))
        })
        .collect();
    let successors = |pid: u64| -> Vec<u64> {
        graph
            .children
            .get(&pid)
            .map(|edges| edges.iter().map(|e| e.waiter).collect())
            .unwrap_or_default()
    };
    let mut index: BTreeMap<u64, (usize, usize)> = BTreeMap::new(); // pid → (index, lowlink)
    let mut stack: Vec<u64> = Vec::new();
    let mut on_stack: HashSet<u64> = HashSet::new();
    let mut found = Vec::new();
    let mut counter = 0;
    for &start in &nodes {
        if index.contains_key(&start) {
            continue;
        }
        let mut work: Vec<(u64, usize)> = vec![(start, 0)];
        while let Some((pid, next)) = work.pop() {
            if next == 0 {
                index.insert(pid, (counter, counter));
                counter += 1;
                stack.push(pid);
                on_stack.insert(pid);
            }
            let succ = successors(pid);
            if let Some(&child) = succ.get(next) {
                work.push((pid, next + 1));
                if !index.contains_key(&child) {
                    work.push((child, 0));
                } else if on_stack.contains(&child) {
                    let child_index = index[&child].0;
                    let entry = index.get_mut(&pid).expect("visited");
                    entry.1 = entry.1.min(child_index);
                }
                continue;
            }
            let (own_index, own_low) = index[&pid];
            if let Some(&(parent, _)) = work.last() {
                let entry = index.get_mut(&parent).expect("visited");
                entry.1 = entry.1.min(own_low);
            }
            if own_index == own_low {
                let mut group = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack.remove(&member);
                    group.push(member);
                    if member == pid {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort_unstable();
                    found.push(group);
                }
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
impl Edge {
    /// An exact row-lock edge on `table`'s primary key, for unit tests.
    pub(crate) fn sample(waiter: u64, blocker: u64, table: &str) -> Edge {
        Edge {
            waiter,
            blocker,
            wait: WaitInfo {
                kind: WaitKind::Row,
                object_type: None,
                table: Some(table.into()),
                index: Some("PRIMARY".into()),
                lock_mode: Some("X".into()),
                blocking_lock_mode: Some("X".into()),
                wait_s: Some(1),
                held: None,
                how: How::Exact,
                source: "test",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(waiter: u64, blocker: u64) -> Edge {
        Edge::sample(waiter, blocker, "db.t")
    }

    fn forest(edges: &[Edge]) -> Forest<u64> {
        build(edges, &|pid| pid)
    }

    fn shape(node: &Node<u64>) -> String {
        if node.waiters.is_empty() {
            node.info.to_string()
        } else {
            let children: Vec<String> = node.waiters.iter().map(shape).collect();
            format!("{}({})", node.info, children.join(","))
        }
    }

    #[test]
    fn chain_has_one_root_with_transitive_count() {
        // C(3) waits for B(2), B waits for A(1).
        let forest = forest(&[edge(2, 1), edge(3, 2)]);
        assert_eq!(forest.roots.len(), 1);
        assert_eq!(shape(&forest.roots[0]), "1(2(3))");
        assert_eq!(forest.roots[0].waiters_total, 2);
        assert_eq!(forest.roots[0].waiters[0].waiters_total, 1);
        assert!(forest.roots[0].waiting_for.is_none());
        assert_eq!(forest.blocked_sessions, 2);
        assert!(forest.cycles.is_empty());
    }

    #[test]
    fn roots_are_ordered_by_how_many_they_hold_up() {
        let mut edges = vec![edge(11, 10)];
        edges.extend((21..=25).map(|w| edge(w, 20)));
        let forest = forest(&edges);
        assert_eq!(
            forest.roots.iter().map(|r| r.info).collect::<Vec<_>>(),
            [20, 10]
        );
        assert_eq!(forest.roots[0].waiters_total, 5);
    }

    #[test]
    fn pile_up_of_fifty() {
        let edges: Vec<Edge> = (100..150).map(|w| edge(w, 1)).collect();
        let forest = forest(&edges);
        assert_eq!(forest.roots.len(), 1);
        assert_eq!(forest.roots[0].waiters_total, 50);
    }

    #[test]
    fn diamond_counts_each_session_once() {
        // 4 waits for 2 and 3; both wait for 1.
        let forest = forest(&[edge(2, 1), edge(3, 1), edge(4, 2), edge(4, 3)]);
        assert_eq!(forest.roots[0].waiters_total, 3);
        assert_eq!(forest.blocked_sessions, 3);
    }

    #[test]
    fn cycle_is_reported_and_not_followed() {
        // 1 → 2 → 3 → 1, and 4 waits for 1.
        let forest = forest(&[edge(2, 1), edge(3, 2), edge(1, 3), edge(4, 1)]);
        assert_eq!(forest.cycles, vec![vec![1, 2, 3]]);
        assert_eq!(forest.roots.len(), 1, "the cycle is entered once");
        assert_eq!(shape(&forest.roots[0]), "1(2(3),4)");
        assert_eq!(forest.roots[0].waiters_total, 3);
    }

    #[test]
    fn cycle_held_up_by_a_root_outside_it() {
        // 2 ⇄ 3, and 3 also waits for root 1.
        let forest = forest(&[edge(2, 3), edge(3, 2), edge(3, 1)]);
        assert_eq!(forest.cycles, vec![vec![2, 3]]);
        assert_eq!(forest.roots.len(), 1);
        assert_eq!(shape(&forest.roots[0]), "1(3(2))");
    }

    #[test]
    fn duplicate_edges_are_merged() {
        let forest = forest(&[edge(2, 1), edge(2, 1)]);
        assert_eq!(forest.roots[0].waiters.len(), 1);
    }

    #[test]
    fn empty_input_gives_an_empty_forest() {
        let forest = forest(&[]);
        assert!(forest.roots.is_empty() && forest.cycles.is_empty() && !forest.truncated);
    }

    #[test]
    fn long_chain_does_not_overflow() {
        let edges: Vec<Edge> = (1..2000).map(|p| edge(p + 1, p)).collect();
        let forest = forest(&edges);
        assert_eq!(forest.roots[0].waiters_total, 1999);
    }
}
