//! A blocker graph as plain data, drawn two ways: Graphviz DOT (`locks --format dot`) and SVG
//! (the HTML report), the SVG laid out here so that no Graphviz is needed at run time.
//!
//! Edges point from the blocker to its waiter, as the tree reads: roots on the left, what they
//! hold up to their right.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// Sessions and who holds up whom.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// One box: a session, or a "blocker unknown" placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphNode {
    /// Unique within the graph (`p93119`, `unknown1`).
    pub id: String,
    /// The first line, in bold: `session 93119`.
    pub title: String,
    /// The lines under it: account, transaction, statement.
    pub lines: Vec<String>,
    pub role: Role,
}

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Holds others up and waits for nobody: the one to look at.
    Root,
    /// Waits for a lock.
    Waiter,
    /// A holder the server does not name.
    Unknown,
}

/// `from` holds up `to`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphEdge {
    pub from: String,
    pub to: String,
    /// The lock, in a few words.
    pub label: String,
    /// Known only by inference (drawn dashed).
    pub inferred: bool,
}

/// The longest line a box shows; longer statements are cut (the report's appendix has them whole).
const LINE_CHARS: usize = 40;

fn cut(text: &str) -> String {
    cut_to(text, LINE_CHARS)
}

/// A DOT string literal.
fn dot_quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

impl Graph {
    /// Graphviz DOT: `dot -Tsvg` draws it.
    pub(crate) fn to_dot(&self) -> String {
        let mut dot = String::from(
            "digraph blockers {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"sans-serif\", fontsize=10];\n  edge [fontname=\"sans-serif\", fontsize=9];\n",
        );
        for node in &self.nodes {
            let mut label = node.title.clone();
            for line in &node.lines {
                label.push('\n');
                label.push_str(&cut(line));
            }
            let style = match node.role {
                Role::Root => ", fillcolor=\"#f8d7da\", penwidth=2",
                Role::Waiter => "",
                Role::Unknown => ", style=\"rounded,dashed\", fillcolor=\"#eeeeee\"",
            };
            let _ = writeln!(
                dot,
                "  {} [label={}{style}];",
                dot_quote(&node.id),
                dot_quote(&label)
            );
        }
        for edge in &self.edges {
            let style = if edge.inferred { ", style=dashed" } else { "" };
            let _ = writeln!(
                dot,
                "  {} -> {} [label={}{style}];",
                dot_quote(&edge.from),
                dot_quote(&edge.to),
                dot_quote(&edge.label)
            );
        }
        if self.nodes.is_empty() {
            dot.push_str("  label=\"no lock waits: nothing is blocked\";\n");
        }
        dot.push_str("}\n");
        dot
    }

    /// Each node's column: 0 for nodes nobody holds up, else one more than the nearest blocker's
    /// (breadth first, so a cycle is never looped on).
    fn columns(&self) -> HashMap<&str, usize> {
        let mut column: HashMap<&str, usize> = HashMap::new();
        let has_blocker: std::collections::HashSet<&str> =
            self.edges.iter().map(|e| e.to.as_str()).collect();
        let mut queue: std::collections::VecDeque<&str> = self
            .nodes
            .iter()
            .map(|n| n.id.as_str())
            .filter(|id| !has_blocker.contains(id))
            .collect();
        for id in &queue {
            column.insert(id, 0);
        }
        loop {
            while let Some(id) = queue.pop_front() {
                let next = column[id] + 1;
                for edge in self.edges.iter().filter(|e| e.from == id) {
                    if !column.contains_key(edge.to.as_str()) {
                        column.insert(&edge.to, next);
                        queue.push_back(&edge.to);
                    }
                }
            }
            // A cycle nobody outside holds up: enter it at its first node.
            match self
                .nodes
                .iter()
                .find(|n| !column.contains_key(n.id.as_str()))
            {
                Some(node) => {
                    column.insert(&node.id, 0);
                    queue.push_back(&node.id);
                }
                None => return column,
            }
        }
    }

    /// The graph drawn as SVG, laid out in columns by depth.
    pub(crate) fn to_svg(&self, caption: &str) -> String {
        const BOX_W: f64 = 250.0;
        const GAP_X: f64 = 200.0;
        const LINE_H: f64 = 15.0;
        const PAD: f64 = 8.0;
        const GAP_Y: f64 = 16.0;
        const MARGIN: f64 = 16.0;
        const TOP: f64 = 58.0;
        let columns = self.columns();
        let height_of = |node: &GraphNode| PAD * 2.0 + LINE_H * (1 + node.lines.len()) as f64;
        // Rows in the order the nodes were given (the tree's order), per column.
        let mut next_y: BTreeMap<usize, f64> = BTreeMap::new();
        let mut place: HashMap<&str, (f64, f64, f64)> = HashMap::new();
        for node in &self.nodes {
            let column = columns[node.id.as_str()];
            let y = next_y.entry(column).or_insert(TOP);
            let h = height_of(node);
            place.insert(&node.id, (MARGIN + column as f64 * (BOX_W + GAP_X), *y, h));
            *y += h + GAP_Y;
        }
        let width = MARGIN * 2.0
            + (columns.values().max().copied().unwrap_or(0) + 1) as f64 * (BOX_W + GAP_X)
            - GAP_X;
        // Room under the boxes for an edge that loops back (a cycle) and its label.
        let loops = self
            .edges
            .iter()
            .any(|e| columns.get(e.to.as_str()) <= columns.get(e.from.as_str()));
        let height = next_y.values().fold(TOP + 40.0, |a, &b| a.max(b))
            + MARGIN
            + if loops { 30.0 } else { 0.0 };
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">\
             <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555555\"/></marker></defs>\
             <text x=\"{MARGIN}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">{}</text>",
            escape(caption)
        );
        if self.nodes.is_empty() {
            let _ = write!(
                svg,
                "<text x=\"{MARGIN}\" y=\"{}\">no lock waits: nothing is blocked</text>",
                TOP + 16.0
            );
        }
        for edge in &self.edges {
            let (Some(&(fx, fy, fh)), Some(&(tx, ty, th))) =
                (place.get(edge.from.as_str()), place.get(edge.to.as_str()))
            else {
                continue;
            };
            let (x1, y1) = (fx + BOX_W, fy + fh / 2.0);
            let (x2, y2) = (tx, ty + th / 2.0);
            let dash = if edge.inferred {
                " stroke-dasharray=\"6 4\""
            } else {
                ""
            };
            // Forward edges as a gentle S; an edge back (a cycle) loops under the boxes.
            let path = if x2 > x1 {
                let mid = (x1 + x2) / 2.0;
                format!("M {x1:.1} {y1:.1} C {mid:.1} {y1:.1} {mid:.1} {y2:.1} {x2:.1} {y2:.1}")
            } else {
                let low = fy.max(ty) + fh.max(th) + 24.0;
                format!(
                    "M {:.1} {:.1} C {:.1} {low:.1} {:.1} {low:.1} {:.1} {:.1}",
                    fx + BOX_W / 2.0,
                    fy + fh,
                    fx + BOX_W / 2.0,
                    tx + BOX_W / 2.0,
                    tx + BOX_W / 2.0,
                    ty + th
                )
            };
            let _ = write!(
                svg,
                "<path d=\"{path}\" fill=\"none\" stroke=\"#555555\" stroke-width=\"1.5\"{dash} marker-end=\"url(#arrow)\"/>"
            );
            // Near the waiter, where each edge has a line of its own.
            let (lx, ly) = if x2 > x1 {
                (x2 - GAP_X * 0.5, y2 - 6.0)
            } else {
                // Under the loop's lowest point, a quarter of the way from the boxes to `low`.
                let bottom = (fy + fh).max(ty + th);
                let low = fy.max(ty) + fh.max(th) + 24.0;
                ((fx + tx + BOX_W) / 2.0, 0.25 * bottom + 0.75 * low + 14.0)
            };
            // The lock on one line, how it is known on the next.
            let (lock, how) = match edge.label.rsplit_once(" (") {
                Some((lock, how)) if how == "exact)" || how == "inferred)" => {
                    (lock, Some(how.trim_end_matches(')')))
                }
                _ => (edge.label.as_str(), None),
            };
            let lines = [Some(lock), how].into_iter().flatten().collect::<Vec<_>>();
            for (n, line) in lines.iter().enumerate() {
                let _ = write!(
                    svg,
                    "<text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#333333\" paint-order=\"stroke\" stroke=\"#ffffff\" stroke-width=\"3\">{}</text>",
                    ly - 12.0 * (lines.len() - 1 - n) as f64,
                    escape(&cut_to(line, 32))
                );
            }
        }
        for node in &self.nodes {
            let (x, y, h) = place[node.id.as_str()];
            let (fill, stroke, extra) = match node.role {
                Role::Root => ("#f8d7da", "#b02a37", " stroke-width=\"2.5\""),
                Role::Waiter => ("#ffffff", "#666666", " stroke-width=\"1\""),
                Role::Unknown => (
                    "#eeeeee",
                    "#666666",
                    " stroke-width=\"1\" stroke-dasharray=\"5 3\"",
                ),
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_W}\" height=\"{h:.1}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\"{extra}/>"
            );
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"bold\">{}</text>",
                x + PAD,
                y + PAD + 11.0,
                escape(&node.title)
            );
            for (n, line) in node.lines.iter().enumerate() {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#333333\">{}</text>",
                    x + PAD,
                    y + PAD + 11.0 + LINE_H * (n + 1) as f64,
                    escape(&cut_to(line, 36))
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// `text` cut to `chars` characters on one line.
fn cut_to(text: &str, chars: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= chars {
        one_line
    } else {
        let head: String = one_line.chars().take(chars - 1).collect();
        format!("{head}…")
    }
}

/// Text for an XML element or attribute.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && c != '\n' && c != '\t' => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, role: Role) -> GraphNode {
        GraphNode {
            id: id.to_owned(),
            title: format!("session {id}"),
            lines: vec!["app@10.0.0.5".to_owned()],
            role,
        }
    }

    fn edge(from: &str, to: &str, inferred: bool) -> GraphEdge {
        GraphEdge {
            from: from.to_owned(),
            to: to.to_owned(),
            label: "row demo.t2 PRIMARY X".to_owned(),
            inferred,
        }
    }

    #[test]
    fn dot_quotes_labels_and_dashes_inferred_edges() {
        let mut root = node("p1", Role::Root);
        root.lines
            .push("last: UPDATE t SET v=\"x\" WHERE id=1".to_owned());
        let graph = Graph {
            nodes: vec![root, node("p2", Role::Waiter), node("p3", Role::Waiter)],
            edges: vec![edge("p1", "p2", false), edge("p2", "p3", true)],
        };
        let dot = graph.to_dot();
        assert!(dot.starts_with("digraph blockers {"), "{dot}");
        assert!(
            dot.contains("\"p1\" -> \"p2\" [label=\"row demo.t2 PRIMARY X\"];"),
            "{dot}"
        );
        assert!(
            dot.contains("\"p2\" -> \"p3\" [label=\"row demo.t2 PRIMARY X\", style=dashed];"),
            "{dot}"
        );
        assert!(dot.contains("v=\\\"x\\\""), "quotes escaped: {dot}");
        assert!(dot.trim_end().ends_with('}'));
    }

    #[test]
    fn columns_follow_depth_and_survive_a_cycle() {
        let graph = Graph {
            nodes: vec![
                node("a", Role::Root),
                node("b", Role::Waiter),
                node("c", Role::Waiter),
                node("x", Role::Waiter),
                node("y", Role::Waiter),
            ],
            edges: vec![
                edge("a", "b", false),
                edge("b", "c", false),
                edge("x", "y", false),
                edge("y", "x", false),
            ],
        };
        let columns = graph.columns();
        assert_eq!((columns["a"], columns["b"], columns["c"]), (0, 1, 2));
        assert_eq!((columns["x"], columns["y"]), (0, 1));
        let svg = graph.to_svg("blockers <&>");
        assert!(svg.contains("blockers &lt;&amp;&gt;"));
        assert_eq!(svg.matches("<rect x=").count(), 5);
        assert_eq!(svg.matches("marker-end=").count(), 4);
    }
}
