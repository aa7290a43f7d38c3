//! What may leave the machine: statements that carry credentials lose every literal wherever they
//! are read from the server (the processlist, last statements, the InnoDB status, replication
//! errors), so no output, the evidence log included, ever holds a password. Other statements are
//! kept whole, as evidence must be; the report masks their literals too unless `--no-redact`.

use std::sync::LazyLock;

use regex::Regex;

/// What a credential-bearing statement's literals become.
pub(crate) const MASK: &str = "'<redacted>'";

/// Statements that may carry a secret in a literal: `IDENTIFIED BY`, `SET PASSWORD`, a password
/// column or option (`MASTER_PASSWORD`, `SOURCE_PASSWORD`), `CHANGE MASTER`/`CHANGE REPLICATION
/// SOURCE`, `CREATE`/`ALTER SERVER … OPTIONS`, and the encryption functions that take a key.
static CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix) \b IDENTIFIED \b | PASSWORD \b | \b (CREATE|ALTER) \s+ SERVER \b
              | \b CHANGE \s+ (MASTER|REPLICATION \s+ SOURCE) \b
              | \b (AES_ENCRYPT|AES_DECRYPT|DES_ENCRYPT|DES_DECRYPT|ENCODE|DECODE) \s* \(",
    )
    .expect("the credentials pattern compiles")
});

/// Whether `statement` may carry a credential.
pub(crate) fn carries_credentials(statement: &str) -> bool {
    CREDENTIALS.is_match(statement)
}

/// `statement` with every quoted literal masked when it may carry a credential; otherwise as it
/// is. Identifiers in backticks are kept.
pub(crate) fn credentials(statement: String) -> String {
    if !carries_credentials(&statement) {
        return statement;
    }
    mask_literals(&statement)
}

/// As [`credentials`], for an optional statement.
pub(crate) fn credentials_in(statement: Option<String>) -> Option<String> {
    statement.map(credentials)
}

/// Every `'…'` and `"…"` literal replaced by [`MASK`], escapes and doubled quotes understood;
/// an unterminated literal is masked to the end.
fn mask_literals(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let quote = c;
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        q if q == quote && chars.peek() == Some(&quote) => {
                            chars.next();
                        }
                        q if q == quote => break,
                        _ => {}
                    }
                }
                out.push_str(MASK);
            }
            '`' => {
                out.push(c);
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == '`' {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// A statement fit to share outside the team: literals become `?` (the normaliser `top` groups
/// statements with), so `WHERE email = 'a@b.c'` reads `WHERE email = ?`.
pub(crate) fn for_sharing(statement: &str) -> String {
    crate::probe::top::normalize::normalize(statement)
}

/// A quoted value in a server's message: a quote that opens after a space or punctuation (so
/// the apostrophe of "event's" opens nothing), up to the next quote.
static MESSAGE_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(^|[^\w'])'[^']*'"#).expect("the message value pattern compiles")
});

/// A server's error message fit to share: the values it quotes (`Duplicate entry 'a@b.c' for
/// key …`) become `?`; its prose, numbers and positions stay.
pub(crate) fn message_for_sharing(message: &str) -> String {
    MESSAGE_VALUE.replace_all(message, "${1}?").into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replication_error_keeps_its_prose_and_loses_its_values() {
        let message = "Worker 1 failed executing transaction '0df4377b:437155' at source log binlog.000008, end_log_pos 4107101; Could not execute Write_rows event on table demo.orders; Duplicate entry 'carol@example.com' for key 'orders.PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's source log binlog.000008, end_log_pos 4107101";
        assert_eq!(
            message_for_sharing(message),
            "Worker 1 failed executing transaction ? at source log binlog.000008, end_log_pos 4107101; Could not execute Write_rows event on table demo.orders; Duplicate entry ? for key ?, Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's source log binlog.000008, end_log_pos 4107101"
        );
    }

    const SECRET: &str = "Planted-Secret-1";

    #[test]
    fn every_kind_of_credential_statement_loses_its_literals() {
        let statements = [
            format!("CREATE USER 'app'@'%' IDENTIFIED BY '{SECRET}'"),
            format!("ALTER USER app IDENTIFIED WITH caching_sha2_password BY \"{SECRET}\""),
            format!("SET PASSWORD FOR 'app'@'%' = '{SECRET}'"),
            format!("set password = PASSWORD('{SECRET}')"),
            format!("CHANGE REPLICATION SOURCE TO SOURCE_HOST='db1', SOURCE_PASSWORD='{SECRET}'"),
            format!("CHANGE MASTER TO MASTER_USER='repl', MASTER_PASSWORD='{SECRET}'"),
            format!(
                "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'u', PASSWORD '{SECRET}')"
            ),
            format!("UPDATE users SET password = '{SECRET}' WHERE id = 7"),
            format!("SELECT AES_ENCRYPT(card, '{SECRET}') FROM t"),
            format!("GRANT ALL ON *.* TO x IDENTIFIED BY 'it''s {SECRET}'"),
            format!("CREATE USER u IDENTIFIED BY 'a\\'{SECRET}'"),
            format!("CREATE USER u IDENTIFIED BY '{SECRET}"),
        ];
        for statement in statements {
            let masked = credentials(statement.clone());
            assert!(!masked.contains(SECRET), "{statement} → {masked}");
            assert!(masked.contains(MASK), "{masked}");
        }
    }

    #[test]
    fn other_statements_are_kept_whole_and_identifiers_survive() {
        let plain =
            "UPDATE customers SET email = 'alice@example.com' WHERE card = '4111 1111 1111 1111'";
        assert_eq!(credentials(plain.to_owned()), plain);
        let masked = credentials("UPDATE `password` SET v = 'x'".to_owned());
        assert_eq!(masked, format!("UPDATE `password` SET v = {MASK}"));
        // A column merely named like the keyword, inside another word, is not a credential.
        let word = "SELECT passwords_reset FROM audit WHERE id = 1";
        assert_eq!(credentials(word.to_owned()), word);
    }

    #[test]
    fn sharing_masks_every_literal() {
        let shared = for_sharing(
            "UPDATE customers SET email = 'alice@example.com' WHERE card = 4111111111111111",
        );
        assert!(!shared.contains("alice@example.com"), "{shared}");
        assert!(!shared.contains("4111111111111111"), "{shared}");
        assert!(shared.contains("email"), "{shared}");
    }
}
