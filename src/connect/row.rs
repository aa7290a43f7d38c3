//! Reading columns by name from text-protocol rows, tolerant of NULL and of the
//! number-or-string differences between flavors.

use mysql_async::Row;
use mysql_async::prelude::FromValue;

/// Column access by name for one row.
pub(crate) struct Columns<'a>(pub &'a Row);

impl Columns<'_> {
    fn get<T: FromValue>(&self, name: &str) -> Option<T> {
        self.0
            .get_opt::<Option<T>, &str>(name)
            .and_then(Result::ok)
            .flatten()
    }

    /// A text column; NULL or missing is `None`.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.get::<Vec<u8>>(name)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    }

    /// An unsigned number; NULL, missing or negative is `None`.
    pub(crate) fn u64(&self, name: &str) -> Option<u64> {
        self.get::<u64>(name)
            .or_else(|| self.text(name).and_then(|t| t.trim().parse().ok()))
    }
}
