//! Reader for the login path file, `~/.mylogin.cnf`, that `mysql_config_editor` writes.
//!
//! The file is an option file in disguise. Its layout, as MySQL's `mysys/my_default.cc` reads it:
//! 4 unused bytes, a 20-byte key, then one record per line of the option file, each a 4-byte
//! little-endian length followed by that many bytes of AES-128-ECB ciphertext (PKCS#7 padding).
//! The 20-byte key is folded into the 16 bytes AES-128 takes by XOR (byte `i` into `i % 16`), as
//! MySQL's `my_aes_create_key` does. The key travels with the file: this is obfuscation that
//! keeps passwords off screens and out of `grep`, not protection from whoever can read the file.
//!
//! [`decode`] is pure (bytes in, option-file text out); [`read`] finds and checks the file the way
//! the `mysql` client does: `MYSQL_TEST_LOGIN_FILE`, else `$HOME/.mylogin.cnf`, and a file that
//! anyone but its owner may read is ignored.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use aes::cipher::{BlockModeDecrypt, KeyInit, block_padding::Pkcs7};
use anyhow::{Result, bail};

/// Bytes before the key; MySQL writes zeros and never reads them.
const UNUSED_BYTES: usize = 4;
/// The key as stored in the file (MySQL's `LOGIN_KEY_LEN`).
const STORED_KEY_BYTES: usize = 20;
/// MySQL reads lines into a 4 KiB buffer and rejects longer records.
const MAX_RECORD_BYTES: usize = 4096;
/// A login file holds a few login paths; the cap keeps a wrong path from eating memory.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why bytes are not a login path file; each names what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Corrupt {
    /// Shorter than the header (unused bytes and key).
    NoHeader { len: usize },
    /// A record's length runs past the end of the file, or its length field is cut short.
    Truncated { record: usize },
    /// A record's length is zero, not a whole number of AES blocks, or over MySQL's limit.
    BadLength { record: usize, len: usize },
    /// The record does not decrypt with the file's key (wrong padding).
    Undecryptable { record: usize },
    /// The decrypted text is not UTF-8.
    NotText { record: usize },
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corrupt::NoHeader { len } => write!(
                f,
                "it has {len} bytes, fewer than the {} of the header",
                UNUSED_BYTES + STORED_KEY_BYTES
            ),
            Corrupt::Truncated { record } => write!(f, "record {record} is cut short"),
            Corrupt::BadLength { record, len } => write!(
                f,
                "record {record} claims {len} bytes, not a whole number of 16-byte blocks up to {MAX_RECORD_BYTES}"
            ),
            Corrupt::Undecryptable { record } => {
                write!(f, "record {record} does not decrypt with the file's key")
            }
            Corrupt::NotText { record } => write!(f, "record {record} is not UTF-8 text"),
        }
    }
}

/// Pure: the option-file text hidden in a login path file's bytes.
pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<String, Corrupt> {
    let header = UNUSED_BYTES + STORED_KEY_BYTES;
    if bytes.len() < header {
        return Err(Corrupt::NoHeader { len: bytes.len() });
    }
    let key = fold_key(&bytes[UNUSED_BYTES..header]);
    let mut rest = &bytes[header..];
    let mut text = String::new();
    let mut record = 0;
    while !rest.is_empty() {
        record += 1;
        let Some((len_bytes, after)) = rest.split_first_chunk::<4>() else {
            return Err(Corrupt::Truncated { record });
        };
        // MySQL reads the length as a signed 32-bit number; anything negative is as bad as huge.
        let len = usize::try_from(i32::from_le_bytes(*len_bytes)).unwrap_or(usize::MAX);
        if len == 0 || len % 16 != 0 || len > MAX_RECORD_BYTES {
            return Err(Corrupt::BadLength { record, len });
        }
        let Some(cipher) = after.get(..len) else {
            return Err(Corrupt::Truncated { record });
        };
        let mut buf = cipher.to_vec();
        let line = ecb::Decryptor::<aes::Aes128>::new(&key.into())
            .decrypt_padded::<Pkcs7>(&mut buf)
            .map_err(|_| Corrupt::Undecryptable { record })?;
        let line = std::str::from_utf8(line).map_err(|_| Corrupt::NotText { record })?;
        text.push_str(line);
        // mysql_config_editor ends every line with a newline; be safe if one does not.
        if !text.ends_with('\n') {
            text.push('\n');
        }
        rest = &after[len..];
    }
    Ok(text)
}

/// MySQL's key folding: the stored bytes XORed, in turn, into a 16-byte AES-128 key.
fn fold_key(stored: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    for (i, byte) in stored.iter().enumerate() {
        key[i % 16] ^= byte;
    }
    key
}

/// Where the login path file is: `MYSQL_TEST_LOGIN_FILE`, else `$HOME/.mylogin.cnf`.
pub(crate) fn path(env: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<PathBuf> {
    env("MYSQL_TEST_LOGIN_FILE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".mylogin.cnf")))
}

/// What [`read`] found.
#[derive(Debug)]
pub(crate) enum LoginFile {
    /// No file there (fine unless a login path was asked for).
    Missing,
    /// A file the mysql client would skip too, and why, in one line.
    Skipped(String),
    /// The decoded option-file text.
    Text(String),
}

/// I/O: reads and decodes the file at `path`. A file group or others may read or write, or one
/// marked executable, is skipped, as the mysql client skips it: the file holds passwords.
pub(crate) fn read(path: &Path) -> Result<LoginFile> {
    let shown = path.display();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LoginFile::Missing),
        Err(e) => bail!("cannot open the login path file {shown}: {e}"),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        bail!("the login path file {shown} is not a regular file");
    }
    if let Some(mode) = too_open(&meta) {
        return Ok(LoginFile::Skipped(format!(
            "ignoring the login path file {shown}: its mode {mode:04o} lets others read it, and the mysql client ignores it too; chmod 600 {shown}"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!(
            "the login path file {shown} is larger than {MAX_FILE_BYTES} bytes; is it really one?"
        );
    }
    match decode(&bytes) {
        Ok(text) => Ok(LoginFile::Text(text)),
        Err(corrupt) => bail!(
            "the login path file {shown} is not one mysql_config_editor wrote: {corrupt}; recreate it with mysql_config_editor"
        ),
    }
}

/// The file's permission bits when they are looser than the mysql client accepts (owner read and
/// write only).
#[cfg(unix)]
fn too_open(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    (mode & 0o177 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn too_open(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

/// The `[group]` names in decoded login-file text, in order.
pub(crate) fn groups(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix('['))
        .filter_map(|rest| rest.split_once(']'))
        .map(|(name, _)| name.trim().to_lowercase())
        .collect()
}

/// The inverse of [`decode`], for tests that need files the real tool would not write.
#[cfg(test)]
pub(crate) fn encode(text: &str, stored_key: [u8; STORED_KEY_BYTES]) -> Vec<u8> {
    use aes::cipher::BlockModeEncrypt;
    let key = fold_key(&stored_key);
    let mut bytes = vec![0u8; UNUSED_BYTES];
    bytes.extend_from_slice(&stored_key);
    for line in text.split_inclusive('\n') {
        let mut buf = vec![0u8; (line.len() / 16 + 1) * 16];
        let cipher = ecb::Encryptor::<aes::Aes128>::new(&key.into())
            .encrypt_padded_b2b::<Pkcs7>(line.as_bytes(), &mut buf)
            .expect("the buffer fits the padding");
        bytes.extend_from_slice(&(cipher.len() as i32).to_le_bytes());
        bytes.extend_from_slice(cipher);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by the real `mysql_config_editor` 9.7.4 (Debian sid):
    ///   set --user=fallback-user
    ///   set --login-path=ci --host=127.0.0.1 --port=13307 --user=root
    ///   set --login-path=pw --host=db.example --user=app --password --socket=/tmp/x.sock
    /// with the password `s3cr#t "q` typed at its prompt.
    fn fixture() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/login_files/mysql-9.7.mylogin.cnf"
        );
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_file_written_by_mysql_config_editor_decodes_to_its_option_groups() {
        let text = decode(&fixture()).unwrap();
        assert_eq!(groups(&text), ["client", "ci", "pw"], "{text}");
        assert!(text.contains("port = 13307\n"), "{text}");
        assert!(text.contains("host = \"db.example\"\n"), "{text}");
    }

    #[test]
    fn a_record_cut_short_is_corrupt_and_says_which() {
        let bytes = fixture();
        let cut = &bytes[..bytes.len() - 5];
        let last = decode(&bytes).unwrap().lines().count();
        assert_eq!(decode(cut), Err(Corrupt::Truncated { record: last }));
        assert_eq!(decode(&bytes[..10]), Err(Corrupt::NoHeader { len: 10 }));
    }

    #[test]
    fn a_wrong_key_or_length_is_corrupt() {
        let mut bytes = fixture();
        bytes[UNUSED_BYTES] ^= 0x55;
        assert!(
            matches!(decode(&bytes), Err(Corrupt::Undecryptable { record: 1 })),
            "{:?}",
            decode(&bytes)
        );
        let mut bytes = fixture();
        bytes[24] = 17;
        assert_eq!(
            decode(&bytes),
            Err(Corrupt::BadLength { record: 1, len: 17 })
        );
    }

    #[test]
    fn encoding_is_the_inverse_of_decoding_the_real_tools_file() {
        let text = decode(&fixture()).unwrap();
        let mut stored = [0u8; STORED_KEY_BYTES];
        stored.copy_from_slice(&fixture()[UNUSED_BYTES..UNUSED_BYTES + STORED_KEY_BYTES]);
        assert_eq!(encode(&text, stored), fixture());
    }

    #[test]
    fn the_key_is_folded_by_xor_into_sixteen_bytes() {
        let mut stored = [0u8; 20];
        stored[0] = 0x0f;
        stored[16] = 0xf0;
        stored[3] = 0x01;
        let key = fold_key(&stored);
        assert_eq!(key[0], 0xff);
        assert_eq!(key[3], 0x01);
        assert!(key[4..].iter().all(|b| *b == 0));
    }

    #[test]
    fn mysql_test_login_file_overrides_the_home_directory() {
        let env = |name: &str| (name == "MYSQL_TEST_LOGIN_FILE").then(|| "/x/login.cnf".to_owned());
        assert_eq!(
            path(&env, Some(Path::new("/home/me"))),
            Some(PathBuf::from("/x/login.cnf"))
        );
        let none = |_: &str| None;
        assert_eq!(
            path(&none, Some(Path::new("/home/me"))),
            Some(PathBuf::from("/home/me/.mylogin.cnf"))
        );
    }
}
