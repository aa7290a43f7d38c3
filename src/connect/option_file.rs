//! Reader for MySQL/MariaDB option files (`my.cnf`, `~/.my.cnf`).
//!
//! mytriage reads the same option files, in the same order and with the same
//! syntax, as the `mysql` client, so that a DBA who can run `mysql` can run
//! mytriage with no extra flags. [`parse`] is pure (one file's text in, entries
//! and include directives out); [`load`] does the I/O: finding the files,
//! following `!include` / `!includedir`, and merging values so that later files
//! and later lines win.
//!
//! Where the C clients are silent (an unterminated quote, a missing include)
//! this module is louder: an error or a warning that names the file and line.

use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

/// System-wide files the Unix clients read first, in this order.
const SYSTEM_FILES: [&str; 2] = ["/etc/my.cnf", "/etc/mysql/my.cnf"];

/// The C clients stop following includes at this depth; so do we.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Option files are small; the cap keeps `--defaults-file=/dev/zero` from eating memory.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Which option files to read, mirroring the mysql client's `--no-defaults`,
/// `--defaults-file` and `--defaults-extra-file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Defaults {
    /// The standard files, plus `--defaults-extra-file` (read before `~/.my.cnf`).
    Standard { extra: Option<PathBuf> },
    /// `--defaults-file`: only this file, which must exist.
    Only(PathBuf),
    /// `--no-defaults`: no option files at all.
    None,
}

impl Default for Defaults {
    fn default() -> Defaults {
        Defaults::Standard { extra: None }
    }
}

/// One option value and where it came from (for error messages and
/// `--print-defaults`-style debugging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptionValue {
    /// `None` for a bare `key` line (a boolean switch such as `compress`).
    pub value: Option<String>,
    pub file: PathBuf,
    pub line: usize,
}

/// Values from the wanted groups of every file read; a later file, or a later
/// line in the same file, overrides an earlier one. Keys are normalised
/// (lowercase, `_` as `-`, no `loose-` prefix).
#[derive(Debug, Default)]
pub(crate) struct OptionSet {
    values: BTreeMap<String, OptionValue>,
    files: Vec<PathBuf>,
    warnings: Vec<String>,
}

impl OptionSet {
    /// The value of `key`, which is normalised first (`ssl_mode` finds `ssl-mode`).
    pub(crate) fn get(&self, key: &str) -> Option<&OptionValue> {
        self.values.get(&normalize_key(key))
    }

    /// Every option file actually read, in reading order (includes after their includer).
    #[cfg(test)]
    pub(crate) fn files_read(&self) -> &[PathBuf] {
        &self.files
    }

    /// Merges the wanted groups of option-file text read from elsewhere (the decoded login path
    /// file) over everything loaded so far. Directives in it are ignored.
    pub(crate) fn merge_text(&mut self, origin: &Path, text: &str, groups: &[&str]) -> Result<()> {
        let parsed = parse(text, origin, groups)?;
        self.files.push(origin.to_path_buf());
        for entry in parsed.entries {
            self.insert(origin, entry);
        }
        Ok(())
    }

    /// Problems that did not stop loading (skipped files, include loops), one line each.
    pub(crate) fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn insert(&mut self, file: &Path, entry: Entry) {
        let value = OptionValue {
            value: entry.value,
            file: file.to_path_buf(),
            line: entry.line,
        };
        self.values.insert(entry.key, value);
    }
}

/// One `key[=value]` line from a wanted group; the key is already normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: Option<String>,
    pub line: usize,
}

/// Whether a directive names one file or a directory of `*.cnf` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeKind {
    File,
    Dir,
}

/// An `!include` / `!includedir` directive; a relative path is already resolved
/// against the including file's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Include {
    pub kind: IncludeKind,
    pub path: PathBuf,
    pub line: usize,
}

/// What [`parse`] found in one file, each list in line order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub entries: Vec<Entry>,
    pub includes: Vec<Include>,
    pub warnings: Vec<String>,
}

/// A `FILE:LINE` position, the prefix of every parse error and warning.
#[derive(Clone, Copy)]
struct Loc<'a> {
    file: &'a Path,
    line: usize,
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Pure: parse one file's text (`origin` is only used in messages and to
/// resolve relative includes). Returns the entries of the wanted `groups`, in
/// order, and the include directives found anywhere in the file.
pub(crate) fn parse(text: &str, origin: &Path, groups: &[&str]) -> Result<Parsed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let wanted: Vec<String> = groups.iter().map(|g| g.trim().to_lowercase()).collect();
    let mut parsed = Parsed::default();
    // None until the first [group] header: options there belong to no group.
    let mut in_wanted: Option<bool> = None;
    for (index, raw) in text.lines().enumerate() {
        let at = Loc {
            file: origin,
            line: index + 1,
        };
        let line = raw.trim_ascii();
        match line.chars().next() {
            None | Some('#') | Some(';') => {}
            Some('[') => in_wanted = Some(wanted.contains(&group_name(line, at)?)),
            Some('!') => directive(line, at, &mut parsed)?,
            Some(_) => match in_wanted {
                None => bail!(
                    "{at}: option without a preceding [group]; add a header such as [client] above it"
                ),
                Some(true) => parsed.entries.push(option(line, at)?),
                // Other programs' groups are not checked: their syntax is not ours to judge.
                Some(false) => {}
            },
        }
    }
    Ok(parsed)
}

/// The lowercased name of a `[group]` header; text after the `]` is ignored, as the clients do.
fn group_name(line: &str, at: Loc<'_>) -> Result<String> {
    let inner = line.strip_prefix('[').unwrap_or(line);
    let Some(end) = inner.find(']') else {
        bail!("{at}: group header has no closing ']'; write it as [groupname]");
    };
    Ok(inner[..end].trim().to_lowercase())
}

/// Records an `!include` / `!includedir`; unknown `!` directives are ignored like the clients do.
fn directive(line: &str, at: Loc<'_>, parsed: &mut Parsed) -> Result<()> {
    let (word, arg) = match line.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&line[..i], line[i..].trim_ascii()),
        None => (line, ""),
    };
    let kind = match word {
        "!include" => IncludeKind::File,
        "!includedir" => IncludeKind::Dir,
        _ => {
            let warning = format!("{at}: ignoring unknown directive {word}");
            parsed.warnings.push(warning);
            return Ok(());
        }
    };
    if arg.is_empty() {
        bail!("{at}: {word} needs a path after it");
    }
    // Path::join keeps an absolute path as is and anchors a relative one next to the includer.
    let dir = at.file.parent().unwrap_or(Path::new(""));
    parsed.includes.push(Include {
        kind,
        path: dir.join(arg),
        line: at.line,
    });
    Ok(())
}

/// One `key`, `key=value` or `key = "value"` line.
fn option(line: &str, at: Loc<'_>) -> Result<Entry> {
    let body = strip_comment(line);
    let (key, value) = match body.split_once('=') {
        Some((key, value)) => (key, Some(value.trim_ascii())),
        None => (body, None),
    };
    let key = normalize_key(key);
    if key.is_empty() {
        bail!("{at}: option has no name before '='; write it as name=value");
    }
    let value = match value {
        Some(v) => Some(unescape(unquote(v, &key, at)?)),
        None => None,
    };
    Ok(Entry {
        key,
        value,
        line: at.line,
    })
}

/// Cuts a `#` comment, the way the C clients' `remove_end_comment` does: any
/// `#` outside single or double quotes starts a comment, even with no space
/// before it, and a backslash inside quotes protects the next quote.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if (c == '\'' || c == '"') && !escaped {
            match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                Some(_) => {}
            }
        } else if quote.is_none() && c == '#' {
            return line[..i].trim_ascii_end();
        }
        escaped = quote.is_some() && c == '\\' && !escaped;
    }
    line
}

/// Removes the quotes around a value that starts with one. Like the clients,
/// the quotes are dropped only when the value also ends with the same quote;
/// unlike them, a value whose opening quote is never closed is an error rather
/// than a password with a stray `"` in it.
fn unquote<'v>(value: &'v str, key: &str, at: Loc<'_>) -> Result<&'v str> {
    let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return Ok(value);
    };
    if closing_quote(&value[1..], q).is_none() {
        // The value itself is not printed: it is often a password.
        bail!(
            "{at}: the value of '{key}' opens a {q} quote that is never closed; add the closing {q}"
        );
    }
    // `"a"b` keeps its quotes, as in the clients: only a fully quoted value is unwrapped.
    if value.len() >= 2 && value.ends_with(q) {
        Ok(&value[1..value.len() - 1])
    } else {
        Ok(value)
    }
}

/// Byte offset of the first unescaped `q` in `rest`.
fn closing_quote(rest: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        if c == q && !escaped {
            return Some(i);
        }
        escaped = c == '\\' && !escaped;
    }
    None
}

/// Applies the clients' escapes; an unknown escape keeps its backslash, so
/// Windows paths such as `C:\path` survive.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('s') => out.push(' '),
            Some(c @ ('\\' | '"' | '\'')) => out.push(c),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Lowercase, `_` as `-`, and no `loose-` prefix (which only tells the
/// clients not to fail on an unknown option).
fn normalize_key(key: &str) -> String {
    let key = key.trim_ascii().to_lowercase().replace('_', "-");
    match key.strip_prefix("loose-") {
        Some(rest) => rest.to_string(),
        None => key,
    }
}

/// I/O: read the files `defaults` names, in the standard order, following
/// `!include` / `!includedir`. `home` is where `~/.my.cnf` lives.
pub(crate) fn load(defaults: &Defaults, home: Option<&Path>, groups: &[&str]) -> Result<OptionSet> {
    let mysql_home = std::env::var_os("MYSQL_HOME").map(PathBuf::from);
    let system = system_files(mysql_home.as_deref());
    load_from(&sources(defaults, &system, home), groups)
}

/// `/etc/my.cnf`, `/etc/mysql/my.cnf`, then `$MYSQL_HOME/my.cnf`. A file listed
/// twice is read only at its last place, as the clients do with their directories.
fn system_files(mysql_home: Option<&Path>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = SYSTEM_FILES.iter().map(PathBuf::from).collect();
    if let Some(dir) = mysql_home.filter(|d| !d.as_os_str().is_empty()) {
        let file = dir.join("my.cnf");
        files.retain(|f| *f != file);
        files.push(file);
    }
    files
}

/// Whether a missing file is fine (a standard location) or an error (named on
/// the command line; the flag is quoted in the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Optional,
    Required(&'static str),
}

/// One top-level file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    path: PathBuf,
    need: Need,
}

/// The top-level files `defaults` names, in reading order, given the system files.
fn sources(defaults: &Defaults, system: &[PathBuf], home: Option<&Path>) -> Vec<Source> {
    let source = |path: &Path, need| Source {
        path: path.to_path_buf(),
        need,
    };
    match defaults {
        Defaults::None => Vec::new(),
        Defaults::Only(path) => vec![source(path, Need::Required("--defaults-file"))],
        Defaults::Standard { extra } => {
            let mut list: Vec<Source> = system.iter().map(|p| source(p, Need::Optional)).collect();
            let extra_need = Need::Required("--defaults-extra-file");
            list.extend(extra.iter().map(|p| source(p, extra_need)));
            list.extend(home.map(|h| source(&h.join(".my.cnf"), Need::Optional)));
            list
        }
    }
}

/// Reads `sources` in order; the seam that lets tests avoid the real `/etc`.
fn load_from(sources: &[Source], groups: &[&str]) -> Result<OptionSet> {
    let mut loader = Loader {
        groups,
        set: OptionSet::default(),
        stack: Vec::new(),
    };
    for source in sources {
        loader.read_top(source)?;
    }
    Ok(loader.set)
}

/// Why a file could not be read; `Other` holds a one-line message naming the path.
enum ReadFailure {
    Missing,
    Other(String),
}

/// A readable file, or one to skip because anyone may write to it.
enum Opened {
    Text(String),
    WorldWritable,
}

/// State while reading: the merged result and the chain of files being included.
struct Loader<'a> {
    groups: &'a [&'a str],
    set: OptionSet,
    stack: Vec<PathBuf>,
}

impl Loader<'_> {
    fn read_top(&mut self, source: &Source) -> Result<()> {
        let path = &source.path;
        match (read_option_file(path), source.need) {
            (Ok(Opened::Text(text)), _) => self.apply(path, &text),
            (Ok(Opened::WorldWritable), _) => self.skip(world_writable_warning(path)),
            (Err(ReadFailure::Missing), Need::Optional) => Ok(()),
            (Err(ReadFailure::Missing), Need::Required(flag)) => Err(anyhow!(
                "option file {} does not exist (named by {flag}); check the path",
                path.display()
            )),
            // A standard file we may not read (say, root-only) must not stop triage.
            (Err(ReadFailure::Other(msg)), Need::Optional) => self.skip(format!("skipping {msg}")),
            (Err(ReadFailure::Other(msg)), Need::Required(flag)) => {
                Err(anyhow!("{msg} (named by {flag})"))
            }
        }
    }

    /// Parses one file and merges it, following its includes at the line where they appear.
    fn apply(&mut self, path: &Path, text: &str) -> Result<()> {
        let parsed = parse(text, path, self.groups)?;
        self.set.files.push(path.to_path_buf());
        self.set.warnings.extend(parsed.warnings);
        self.stack.push(identity(path));
        let result = self.merge(path, parsed.entries, parsed.includes);
        self.stack.pop();
        result
    }

    fn merge(&mut self, path: &Path, entries: Vec<Entry>, includes: Vec<Include>) -> Result<()> {
        let mut includes = includes.into_iter().peekable();
        for entry in entries {
            while let Some(include) = includes.next_if(|i| i.line < entry.line) {
                self.follow(path, &include)?;
            }
            self.set.insert(path, entry);
        }
        for include in includes {
            self.follow(path, &include)?;
        }
        Ok(())
    }

    fn follow(&mut self, path: &Path, include: &Include) -> Result<()> {
        let at = Loc {
            file: path,
            line: include.line,
        };
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            let target = include.path.display();
            return self.skip(format!(
                "{at}: skipping include of {target}: includes are nested more than {MAX_INCLUDE_DEPTH} deep"
            ));
        }
        match include.kind {
            IncludeKind::File => self.read_included(at, &include.path),
            IncludeKind::Dir => {
                for file in cnf_files(at, &include.path)? {
                    self.read_included(at, &file)?;
                }
                Ok(())
            }
        }
    }

    /// Included files are best effort, as in the clients: a missing or
    /// unreadable one is a warning; a syntax error inside one is still an error.
    fn read_included(&mut self, at: Loc<'_>, file: &Path) -> Result<()> {
        if self.stack.contains(&identity(file)) {
            let target = file.display();
            return self.skip(format!(
                "{at}: skipping include of {target}: it would include itself (include loop)"
            ));
        }
        match read_option_file(file) {
            Ok(Opened::Text(text)) => self.apply(file, &text),
            Ok(Opened::WorldWritable) => self.skip(world_writable_warning(file)),
            Err(ReadFailure::Missing) => self.skip(format!(
                "{at}: included option file {} does not exist; skipping it",
                file.display()
            )),
            Err(ReadFailure::Other(msg)) => self.skip(format!("{at}: skipping {msg}")),
        }
    }

    /// Records why something was skipped and carries on.
    fn skip(&mut self, warning: String) -> Result<()> {
        self.set.warnings.push(warning);
        Ok(())
    }
}

fn world_writable_warning(path: &Path) -> String {
    format!("ignoring world-writable option file {}", path.display())
}

/// The same file reached by two spellings must count as one for loop detection.
fn identity(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The `*.cnf` files of an `!includedir`, sorted by name. Like the clients, a
/// directory that cannot be listed is an error.
fn cnf_files(at: Loc<'_>, dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|e| {
        anyhow!(
            "{at}: cannot read !includedir {}: {e}; fix the path or remove the line",
            dir.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|p| p.as_os_str().as_encoded_bytes().ends_with(b".cnf") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Opens and reads one option file, checking from the open handle (no race
/// between check and read) that it is not a directory or world-writable.
fn read_option_file(path: &Path) -> std::result::Result<Opened, ReadFailure> {
    let shown = path.display();
    let other = |what: &str, e: std::io::Error| {
        ReadFailure::Other(format!("option file {shown}: {what}: {e}"))
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadFailure::Missing),
        Err(e) => return Err(other("cannot open", e)),
    };
    let meta = file.metadata().map_err(|e| other("cannot inspect", e))?;
    if meta.is_dir() {
        let msg = format!("option file {shown} is a directory; give the path of a file");
        return Err(ReadFailure::Other(msg));
    }
    if world_writable(&meta) {
        return Ok(Opened::WorldWritable);
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| other("cannot read", e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let msg = format!(
            "option file {shown} is larger than {MAX_FILE_BYTES} bytes; is it really an option file?"
        );
        return Err(ReadFailure::Other(msg));
    }
    String::from_utf8(bytes).map(Opened::Text).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        ReadFailure::Other(format!(
            "option file {shown}:{line}: not valid UTF-8; save the file as UTF-8"
        ))
    })
}

/// The clients ignore world-writable regular files: anyone could have planted options there.
#[cfg(unix)]
fn world_writable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.is_file() && meta.permissions().mode() & 0o002 != 0
}

#[cfg(not(unix))]
fn world_writable(_meta: &fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &[&str] = &["client", "mytriage"];

    fn fixture(name: &str) -> PathBuf {
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/option_files"
        ))
        .join(name)
    }

    fn load_fixture(name: &str) -> Result<OptionSet> {
        load(&Defaults::Only(fixture(name)), None, GROUPS)
    }

    /// The value of `key`, panicking with the key's name if it is absent or bare.
    fn value<'a>(set: &'a OptionSet, key: &str) -> &'a str {
        let found = set.get(key).unwrap_or_else(|| panic!("no option {key}"));
        found
            .value
            .as_deref()
            .unwrap_or_else(|| panic!("option {key} has no value"))
    }

    fn parse_text(text: &str) -> Result<Parsed> {
        parse(text, Path::new("/test/my.cnf"), GROUPS)
    }

    fn write(path: &Path, text: &str) -> PathBuf {
        fs::write(path, text).unwrap();
        path.to_path_buf()
    }

    #[test]
    fn client_basic_reads_client_group_only() {
        let set = load_fixture("client_basic.cnf").unwrap();
        assert_eq!(value(&set, "user"), "triage");
        assert_eq!(value(&set, "password"), "s3cret");
        assert_eq!(value(&set, "host"), "db1.example.com");
        assert_eq!(
            value(&set, "port"),
            "3307",
            "[mysqld] port must not leak in"
        );
        assert_eq!(value(&set, "socket"), "/var/run/mysqld/mysqld.sock");
        assert_eq!(value(&set, "ssl-mode"), "REQUIRED");
        assert_eq!(
            value(&set, "SSL_MODE"),
            "REQUIRED",
            "lookups are normalised too"
        );
        assert_eq!(
            value(&set, "default-character-set"),
            "utf8mb4",
            "[ CLIENT ] is [client]"
        );
        let compress = set.get("compress").unwrap();
        assert_eq!(compress.value, None, "bare key, loose- stripped");
        assert_eq!(compress.line, 9);
        assert_eq!(compress.file, fixture("client_basic.cnf"));
        assert!(set.get("datadir").is_none());
        assert_eq!(set.files_read(), [fixture("client_basic.cnf")]);
        assert!(set.warnings().is_empty());
    }

    #[test]
    fn quotes_and_comments_follow_client_rules() {
        let set = load_fixture("quotes_and_comments.cnf").unwrap();
        assert_eq!(value(&set, "user"), "alice");
        assert_eq!(
            value(&set, "host"),
            "db2",
            "an unquoted # ends the value even unspaced"
        );
        assert_eq!(value(&set, "password"), "p#ss word");
        assert_eq!(
            value(&set, "init-command"),
            "SET NAMES utf8mb4 # not a comment"
        );
        assert_eq!(value(&set, "comment"), "say \"hi\"");
        assert_eq!(value(&set, "tabbed"), "a\tb");
        assert_eq!(value(&set, "spaced"), " leading space");
        assert_eq!(value(&set, "backslash"), r"C:\dir\file");
        assert_eq!(value(&set, "unknown-escape"), r"C:\path");
        assert_eq!(value(&set, "empty"), "");
        assert_eq!(value(&set, "empty-quoted"), "");
        assert_eq!(
            value(&set, "unbalanced"),
            "it's # the quote is literal, so this is not a comment"
        );
        assert_eq!(set.get("password").unwrap().line, 7);
    }

    #[test]
    fn groups_override_later_group_wins() {
        let set = load_fixture("groups_override.cnf").unwrap();
        assert_eq!(value(&set, "user"), "triage-bot");
        assert_eq!(value(&set, "port"), "3310");
        assert_eq!(value(&set, "host"), "db-client.example.com");
        assert_eq!(set.get("user").unwrap().line, 10);
    }

    #[test]
    fn includes_are_followed_in_place() {
        let set = load_fixture("includes/main.cnf").unwrap();
        let dir = fixture("includes");
        assert_eq!(value(&set, "user"), "main-user");
        assert_eq!(
            value(&set, "host"),
            "from-part",
            "include overrides lines above it"
        );
        assert_eq!(
            value(&set, "database"),
            "from-main",
            "lines below an include win"
        );
        assert_eq!(value(&set, "port"), "3333", "conf.d is read in name order");
        assert_eq!(value(&set, "password"), "first");
        assert_eq!(value(&set, "socket"), "/tmp/second.sock");
        assert_eq!(set.get("host").unwrap().file, dir.join("part.cnf"));
        let read = [
            dir.join("main.cnf"),
            dir.join("part.cnf"),
            dir.join("conf.d/10-first.cnf"),
            dir.join("conf.d/20-second.cnf"),
        ];
        assert_eq!(
            set.files_read(),
            read,
            "notes.txt and *.cnf.bak are not read"
        );
        assert!(set.warnings().is_empty(), "{:?}", set.warnings());
    }

    #[test]
    fn include_loop_is_cut_with_a_warning() {
        let set = load_fixture("includes/loop_a.cnf").unwrap();
        assert_eq!(value(&set, "user"), "from-a");
        assert_eq!(value(&set, "host"), "from-b");
        let dir = fixture("includes");
        assert_eq!(
            set.files_read(),
            [dir.join("loop_a.cnf"), dir.join("loop_b.cnf")]
        );
        assert_eq!(set.warnings().len(), 1);
        let warning = &set.warnings()[0];
        assert!(warning.contains("loop_b.cnf:3:"), "{warning}");
        assert!(warning.contains("include loop"), "{warning}");
    }

    #[test]
    fn include_depth_is_limited() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..15 {
            let next = i + 1;
            let text = format!("[client]\nlevel={i}\n!include {next}.cnf\n");
            write(&dir.path().join(format!("{i}.cnf")), &text);
        }
        let set = load(&Defaults::Only(dir.path().join("0.cnf")), None, GROUPS).unwrap();
        assert_eq!(set.files_read().len(), MAX_INCLUDE_DEPTH + 1);
        assert_eq!(value(&set, "level"), "10");
        assert_eq!(set.warnings().len(), 1);
        assert!(
            set.warnings()[0].contains("10.cnf:3: skipping include"),
            "{:?}",
            set.warnings()
        );
    }

    #[test]
    fn bad_no_group_names_file_and_line() {
        let err = load_fixture("bad_no_group.cnf").unwrap_err().to_string();
        assert!(
            err.contains("bad_no_group.cnf:3: option without a preceding [group]"),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn bad_header_names_file_and_line() {
        let err = load_fixture("bad_header.cnf").unwrap_err().to_string();
        assert!(
            err.contains("bad_header.cnf:3: group header has no closing ']'"),
            "{err}"
        );
    }

    #[test]
    fn bad_quote_names_file_and_line_but_not_the_value() {
        let err = load_fixture("bad_quote.cnf").unwrap_err().to_string();
        assert!(err.contains("bad_quote.cnf:3:"), "{err}");
        assert!(
            err.contains("'password'") && err.contains("never closed"),
            "{err}"
        );
        assert!(
            !err.contains("do-not-print-me"),
            "secrets stay out of errors: {err}"
        );
    }

    #[test]
    fn standard_order_extra_file_then_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        let etc = write(
            &dir.path().join("etc.cnf"),
            "[client]\nuser=etc\nhost=etc-host\n",
        );
        let extra = write(
            &dir.path().join("extra.cnf"),
            "[client]\nuser=extra\npassword=extra-pw\n",
        );
        let dot = write(&home.join(".my.cnf"), "[client]\nuser=home\n");
        let system = [etc.clone(), dir.path().join("absent.cnf")];
        let defaults = Defaults::Standard {
            extra: Some(extra.clone()),
        };
        let set = load_from(&sources(&defaults, &system, Some(&home)), GROUPS).unwrap();
        assert_eq!(value(&set, "user"), "home", "~/.my.cnf is read last");
        assert_eq!(value(&set, "password"), "extra-pw");
        assert_eq!(value(&set, "host"), "etc-host");
        assert_eq!(set.files_read(), [etc, extra, dot]);
        assert!(
            set.warnings().is_empty(),
            "missing standard files are silent"
        );
    }

    #[test]
    fn standard_sources_are_in_client_order() {
        let system = system_files(Some(Path::new("/opt/mysql")));
        let defaults = Defaults::Standard {
            extra: Some(PathBuf::from("/x/extra.cnf")),
        };
        let list = sources(&defaults, &system, Some(Path::new("/home/me")));
        let paths: Vec<&Path> = list.iter().map(|s| s.path.as_path()).collect();
        let expected = [
            "/etc/my.cnf",
            "/etc/mysql/my.cnf",
            "/opt/mysql/my.cnf",
            "/x/extra.cnf",
            "/home/me/.my.cnf",
        ];
        assert_eq!(paths, expected.map(Path::new));
        assert_eq!(list[3].need, Need::Required("--defaults-extra-file"));
        assert_eq!(list[4].need, Need::Optional);
    }

    #[test]
    fn mysql_home_duplicate_is_read_at_its_last_place() {
        assert_eq!(
            system_files(Some(Path::new("/etc/"))),
            ["/etc/mysql/my.cnf", "/etc/my.cnf"].map(PathBuf::from)
        );
        assert_eq!(
            system_files(Some(Path::new(""))),
            SYSTEM_FILES.map(PathBuf::from)
        );
        assert_eq!(system_files(None), SYSTEM_FILES.map(PathBuf::from));
    }

    #[test]
    fn defaults_only_reads_just_that_file() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join(".my.cnf"), "[client]\nuser=home\n");
        let only = write(&dir.path().join("only.cnf"), "[client]\nhost=only-host\n");
        let set = load(&Defaults::Only(only.clone()), Some(dir.path()), GROUPS).unwrap();
        assert_eq!(value(&set, "host"), "only-host");
        assert!(set.get("user").is_none(), "~/.my.cnf must not be read");
        assert_eq!(set.files_read(), [only]);
    }

    #[test]
    fn defaults_none_reads_nothing() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join(".my.cnf"), "[client]\nuser=home\n");
        let set = load(&Defaults::None, Some(dir.path()), GROUPS).unwrap();
        assert!(set.files_read().is_empty());
        assert!(set.get("user").is_none());
    }

    #[test]
    fn missing_defaults_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.cnf");
        let err = load(&Defaults::Only(missing.clone()), None, GROUPS)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("--defaults-file"), "{err}");
    }

    #[test]
    fn missing_extra_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.cnf");
        let defaults = Defaults::Standard {
            extra: Some(missing.clone()),
        };
        let err = load_from(&sources(&defaults, &[], Some(dir.path())), GROUPS).unwrap_err();
        let err = err.to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(err.contains("--defaults-extra-file"), "{err}");
    }

    #[test]
    fn directory_as_defaults_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&Defaults::Only(dir.path().to_path_buf()), None, GROUPS).unwrap_err();
        let err = err.to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains("is a directory"), "{err}");
    }

    #[test]
    fn unreadable_standard_file_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where a standard file should be: unreadable as a file, whoever runs the test.
        let system = [dir.path().to_path_buf()];
        let defaults = Defaults::Standard { extra: None };
        let set = load_from(&sources(&defaults, &system, None), GROUPS).unwrap();
        assert!(set.files_read().is_empty());
        assert_eq!(set.warnings().len(), 1);
        assert!(
            set.warnings()[0].contains("is a directory"),
            "{:?}",
            set.warnings()
        );
    }

    #[cfg(unix)]
    #[test]
    fn world_writable_file_is_skipped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir.path().join("open.cnf"), "[client]\nuser=planted\n");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        let set = load(&Defaults::Only(path.clone()), None, GROUPS).unwrap();
        assert!(set.get("user").is_none());
        assert!(set.files_read().is_empty());
        let expected = format!("ignoring world-writable option file {}", path.display());
        assert_eq!(set.warnings(), [expected]);
    }

    #[test]
    fn missing_include_is_a_warning_missing_includedir_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            &dir.path().join("main.cnf"),
            "[client]\n!include gone.cnf\nuser=u\n",
        );
        let set = load(&Defaults::Only(main), None, GROUPS).unwrap();
        assert_eq!(value(&set, "user"), "u");
        assert!(
            set.warnings()[0].contains("main.cnf:2:"),
            "{:?}",
            set.warnings()
        );
        let main = write(
            &dir.path().join("dir.cnf"),
            "[client]\n!includedir /no/such/dir\n",
        );
        let err = load(&Defaults::Only(main), None, GROUPS)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("dir.cnf:2: cannot read !includedir /no/such/dir"),
            "{err}"
        );
    }

    #[test]
    fn invalid_utf8_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.cnf");
        fs::write(&path, b"[client]\npassword=caf\xe9\n").unwrap();
        let err = load(&Defaults::Only(path), None, GROUPS)
            .unwrap_err()
            .to_string();
        assert!(err.contains("latin1.cnf:2: not valid UTF-8"), "{err}");
    }

    #[test]
    fn keys_are_normalised() {
        let parsed = parse_text("[client]\nSSL_Mode=x\nloose_ssl_ca=y\nloose-\n").unwrap_err();
        assert!(
            parsed.to_string().contains("my.cnf:4: option has no name"),
            "{parsed}"
        );
        let parsed = parse_text("[client]\nSSL_Mode=x\nloose_ssl_ca = y\n").unwrap();
        let keys: Vec<&str> = parsed.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["ssl-mode", "ssl-ca"]);
    }

    #[test]
    fn later_lines_win_whatever_the_group_order() {
        // Like the mysql client: options are applied in file order, so a [client]
        // below [mytriage] overrides it.
        let parsed = parse_text("[mytriage]\nuser=a\n[client]\nuser=b\n").unwrap();
        let values: Vec<Option<&str>> = parsed.entries.iter().map(|e| e.value.as_deref()).collect();
        assert_eq!(values, [Some("a"), Some("b")]);
    }

    #[test]
    fn directives_are_parsed_with_lines_and_resolved_paths() {
        let text = "!include /abs/a.cnf\n[mysqld]\n!includedir  conf.d \n!frobnicate x\n";
        let parsed = parse_text(text).unwrap();
        let include = |kind, path: &str, line| Include {
            kind,
            path: PathBuf::from(path),
            line,
        };
        let expected = [
            include(IncludeKind::File, "/abs/a.cnf", 1),
            include(IncludeKind::Dir, "/test/conf.d", 3),
        ];
        assert_eq!(parsed.includes, expected);
        assert_eq!(
            parsed.warnings,
            ["/test/my.cnf:4: ignoring unknown directive !frobnicate"]
        );
        let err = parse_text("[client]\n!include   \n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "/test/my.cnf:2: !include needs a path after it");
    }

    #[test]
    fn other_groups_are_not_validated() {
        let parsed = parse_text("[mysqld]\nx=\"open\n[client]\nuser=u\n").unwrap();
        assert_eq!(parsed.entries.len(), 1);
    }

    #[test]
    fn bom_crlf_and_trailing_junk_after_header() {
        let parsed = parse_text("\u{feff}[client] # main\r\nuser = u \r\n").unwrap();
        let expected = Entry {
            key: "user".into(),
            value: Some("u".into()),
            line: 2,
        };
        assert_eq!(parsed.entries, [expected]);
    }

    #[test]
    fn odd_input_never_panics() {
        let lines = [
            "[",
            "]",
            "[]",
            "=",
            "==",
            "\"",
            "'",
            "\\",
            "=\"",
            "='",
            "=\\",
            "x=\"\\\"",
            "x='é",
            "x=\"é\"",
            "x=é\\",
            "é",
            "#",
            ";",
            "!",
            "!include",
            "!includedir\t",
            "[é",
            "[client]]",
            "x=\"a\"b\"",
            "x=''''",
            "x=\"'\"",
            "\u{0}",
            "x=\u{0}\\\u{0}",
            "x = \"ü\\",
        ];
        for line in lines {
            for text in [
                line.to_string(),
                format!("[client]\n{line}"),
                format!("[client]\nk={line}"),
            ] {
                let _ = parse_text(&text);
            }
        }
    }
}
