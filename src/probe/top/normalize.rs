//! Client-side statement normalisation for servers without performance_schema digests: literals
//! become `?`, IN-lists collapse, comments go and white space folds, so that statements differing
//! only in their values group together. Pure; never panics.

/// The normalised form of a statement.
pub(crate) fn normalize(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' | '"' => {
                i = skip_quoted(&chars, i, c);
                out.push('?');
                continue;
            }
            '`' => {
                let end = skip_quoted(&chars, i, '`');
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            '/' if next == Some('*') => {
                i = skip_block_comment(&chars, i);
                push_space(&mut out);
                continue;
            }
            '-' if next == Some('-') => {
                i = skip_line(&chars, i);
                push_space(&mut out);
                continue;
            }
            '#' => {
                i = skip_line(&chars, i);
                push_space(&mut out);
                continue;
            }
            c if c.is_whitespace() => {
                push_space(&mut out);
                i += 1;
                continue;
            }
            c if c.is_ascii_digit() && !in_identifier(&out) => {
                i = skip_number(&chars, i);
                out.push('?');
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    collapse_lists(out.trim())
}

fn push_space(out: &mut String) {
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// A digit right after a letter, digit, `_` or `$` belongs to a name (`t1`, `col_2`).
fn in_identifier(out: &str) -> bool {
    out.chars()
        .last()
        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Index after a quoted run starting at `start`, honouring backslash escapes and doubled quotes.
fn skip_quoted(chars: &[char], start: usize, quote: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if quote != '`' => i += 2,
            c if c == quote && chars.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

fn skip_block_comment(chars: &[char], start: usize) -> usize {
    let mut i = start + 2;
    while i + 1 < chars.len() {
        if chars[i] == '*' && chars[i + 1] == '/' {
            return i + 2;
        }
        i += 1;
    }
    chars.len()
}

fn skip_line(chars: &[char], start: usize) -> usize {
    chars[start..]
        .iter()
        .position(|c| *c == '\n')
        .map_or(chars.len(), |p| start + p + 1)
}

/// Numbers, decimals, exponents and hex (`0x1F`).
fn skip_number(chars: &[char], start: usize) -> usize {
    let mut i = start;
    if chars[i] == '0' && matches!(chars.get(i + 1), Some('x' | 'X' | 'b' | 'B')) {
        i += 2;
        while i < chars.len() && chars[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
        i += 1;
    }
    if i < chars.len()
        && matches!(chars[i], 'e' | 'E')
        && chars
            .get(i + 1)
            .is_some_and(|c| c.is_ascii_digit() || *c == '-' || *c == '+')
    {
        i += 2;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    i
}

/// `IN (?, ?, ?)` and `VALUES (?, ?), (?, ?)` become `IN (...)` and `VALUES (...)`.
fn collapse_lists(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let (before, after) = rest.split_at(open);
        out.push_str(before);
        let close = after.find(')').unwrap_or(after.len().saturating_sub(1));
        let inside = &after[1..close.max(1)];
        let only_placeholders =
            !inside.trim().is_empty() && inside.split(',').all(|item| item.trim() == "?");
        if only_placeholders && inside.contains(',') {
            out.push_str("(...)");
            rest = after.get(close + 1..).unwrap_or("");
            // VALUES (...), (...), ... → one group.
            while let Some(more) = rest.strip_prefix(", (").or_else(|| rest.strip_prefix(",(")) {
                let Some(end) = more.find(')') else { break };
                if !more[..end].split(',').all(|item| item.trim() == "?") {
                    break;
                }
                rest = &more[end + 1..];
            }
        } else {
            out.push('(');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(normalize("SELECT SLEEP(0.5)"), "SELECT SLEEP(?)");
        assert_eq!(
            normalize("UPDATE t SET v = v + 1 WHERE id = 42"),
            "UPDATE t SET v = v + ? WHERE id = ?"
        );
        assert_eq!(
            normalize("SELECT * FROM users WHERE name = 'O''Brien' AND note = \"a\\\"b\""),
            "SELECT * FROM users WHERE name = ? AND note = ?"
        );
        assert_eq!(normalize("SELECT 0xFF, 1e10, 3.14"), "SELECT ?, ?, ?");
    }

    #[test]
    fn names_with_digits_are_kept() {
        assert_eq!(
            normalize("SELECT c1 FROM t2 JOIN `db 3`.t4"),
            "SELECT c1 FROM t2 JOIN `db 3`.t4"
        );
    }

    #[test]
    fn lists_collapse() {
        assert_eq!(
            normalize("SELECT * FROM t WHERE id IN (1, 2, 3)"),
            "SELECT * FROM t WHERE id IN (...)"
        );
        assert_eq!(
            normalize("SELECT * FROM t WHERE id IN (1,2)"),
            normalize("SELECT * FROM t WHERE id IN (7, 8, 9, 10)")
        );
        assert_eq!(
            normalize("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"),
            "INSERT INTO t VALUES (...)"
        );
        assert_eq!(
            normalize("SELECT f(1)"),
            "SELECT f(?)",
            "a single value is not a list"
        );
    }

    #[test]
    fn comments_and_white_space_fold() {
        assert_eq!(
            normalize("SELECT /* hint */ 1\n\n  FROM  t -- trailing\n"),
            "SELECT ? FROM t"
        );
        assert_eq!(normalize("  "), "");
    }

    #[test]
    fn hostile_input_does_not_panic() {
        for text in [
            "'unterminated",
            "/* open",
            "(((",
            ")",
            "IN (",
            "0x",
            "1e",
            "`",
            "\"\\",
            "é'ü'€",
            "\0x\0",
            "(?, ",
        ] {
            let _ = normalize(text);
        }
    }
}
