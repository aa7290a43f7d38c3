//! Reading columns by name from rows, tolerant of NULL and of the number-or-string differences
//! between flavors and between the text and binary protocols.

use mysql_async::prelude::FromValue;
use mysql_async::{Row, Value};

/// Column access by name for one row.
pub(crate) struct Columns<'a>(pub &'a Row);

impl Columns<'_> {
    fn get<T: FromValue>(&self, name: &str) -> Option<T> {
        self.0
            .get_opt::<Option<T>, &str>(name)
            .and_then(Result::ok)
            .flatten()
    }

    /// A column as text, whatever its type (the binary protocol sends numbers as numbers);
    /// NULL or missing is `None`.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        let index = self
            .0
            .columns_ref()
            .iter()
            .position(|c| c.name_str() == name)?;
        match self.0.as_ref(index)? {
            Value::NULL => None,
            Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Value::Int(n) => Some(n.to_string()),
            Value::UInt(n) => Some(n.to_string()),
            Value::Float(n) => Some(n.to_string()),
            Value::Double(n) => Some(n.to_string()),
            other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
        }
    }

    /// Every column in order, by name, as text (NULL is `None`): for statements whose columns
    /// differ by flavor and version (`SHOW REPLICA STATUS`, `SHOW EXPLAIN`).
    pub(crate) fn all(&self) -> Vec<(String, Option<String>)> {
        self.0
            .columns_ref()
            .iter()
            .map(|c| {
                let name = c.name_str().into_owned();
                let value = self.text(&name);
                (name, value)
            })
            .collect()
    }

    /// An unsigned number; NULL, missing or negative is `None`.
    pub(crate) fn u64(&self, name: &str) -> Option<u64> {
        self.get::<u64>(name)
            .or_else(|| self.text(name).and_then(|t| t.trim().parse().ok()))
    }
}
