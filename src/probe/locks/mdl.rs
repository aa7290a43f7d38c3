//! Metadata-lock compatibility: which lock types really block which. The tables transcribe the
//! granted-compatibility and pending-priority matrices documented in MySQL's and MariaDB's
//! `sql/mdl.cc` (the default priority matrix for objects, the scoped matrix for GLOBAL, COMMIT,
//! SCHEMA, TABLESPACE and MySQL's BACKUP LOCK, and MariaDB's stage matrix for its `BACKUP_*`
//! types). sys.schema_table_lock_waits reports every holder of the table; mytriage keeps only
//! holders whose lock conflicts with the waiter's request, and says in plain words what they hold.

/// Per-object lock types, in the matrices' column order.
const OBJECT_TYPES: [&str; 10] = [
    "SHARED",
    "SHARED_HIGH_PRIO",
    "SHARED_READ",
    "SHARED_WRITE",
    "SHARED_WRITE_LOW_PRIO",
    "SHARED_UPGRADABLE",
    "SHARED_READ_ONLY",
    "SHARED_NO_WRITE",
    "SHARED_NO_READ_WRITE",
    "EXCLUSIVE",
];

/// `GRANTED[requested][granted]`: `true` when a granted lock blocks the request.
const GRANTED: [[bool; 10]; 10] = {
    const O: bool = false; // compatible
    const B: bool = true; // blocks
    [
        // S  SH  SR  SW SWLP SU SRO SNW SNRW X
        [O, O, O, O, O, O, O, O, O, B], // S
        [O, O, O, O, O, O, O, O, O, B], // SH
        [O, O, O, O, O, O, O, O, B, B], // SR
        [O, O, O, O, O, O, B, B, B, B], // SW
        [O, O, O, O, O, O, B, B, B, B], // SWLP
        [O, O, O, O, O, B, O, B, B, B], // SU
        [O, O, O, B, B, O, O, O, B, B], // SRO
        [O, O, O, B, B, B, O, B, B, B], // SNW
        [O, O, B, B, B, B, B, B, B, B], // SNRW
        [B, B, B, B, B, B, B, B, B, B], // X
    ]
};

/// `PENDING[requested][pending]`: `true` when a waiting request of higher priority blocks it.
const PENDING: [[bool; 10]; 10] = {
    const O: bool = false;
    const B: bool = true;
    [
        // S  SH  SR  SW SWLP SU SRO SNW SNRW X
        [O, O, O, O, O, O, O, O, O, B], // S
        [O, O, O, O, O, O, O, O, O, O], // SH
        [O, O, O, O, O, O, O, O, B, B], // SR
        [O, O, O, O, O, O, O, B, B, B], // SW
        [O, O, O, O, O, O, B, B, B, B], // SWLP
        [O, O, O, O, O, O, O, O, O, B], // SU
        [O, O, O, B, O, O, O, O, B, B], // SRO
        [O, O, O, O, O, O, O, O, O, B], // SNW
        [O, O, O, O, O, O, O, O, O, B], // SNRW
        [O, O, O, O, O, O, O, O, O, O], // X
    ]
};

/// Scoped locks (GLOBAL, SCHEMA, COMMIT, BACKUP, TABLESPACE) use only IX, S and X.
fn scoped_blocks(requested: &str, other: &str, other_granted: bool) -> bool {
    matches!(
        (requested, other, other_granted),
        ("INTENTION_EXCLUSIVE", "SHARED" | "EXCLUSIVE", _)
            | ("SHARED", "INTENTION_EXCLUSIVE" | "EXCLUSIVE", true)
            | ("SHARED", "EXCLUSIVE", false)
            | ("EXCLUSIVE", _, true)
    )
}

fn is_scoped(object_type: &str) -> bool {
    matches!(
        object_type.to_ascii_uppercase().as_str(),
        "GLOBAL" | "SCHEMA" | "COMMIT" | "BACKUP LOCK" | "BACKUP_LOCK" | "TABLESPACE" | "BACKUP"
    )
}

/// MariaDB's backup lock types (object type `BACKUP`), in `enum_mdl_type` order: the stages of
/// BACKUP STAGE, the two steps of FLUSH TABLES WITH READ LOCK, then what statements take.
const BACKUP_TYPES: [&str; 14] = [
    "BACKUP_START",
    "BACKUP_FLUSH",
    "BACKUP_WAIT_FLUSH",
    "BACKUP_WAIT_DDL",
    "BACKUP_WAIT_COMMIT",
    "BACKUP_FTWRL1",
    "BACKUP_FTWRL2",
    "BACKUP_DML",
    "BACKUP_TRANS_DML",
    "BACKUP_SYS_DML",
    "BACKUP_DDL",
    "BACKUP_BLOCK_DDL",
    "BACKUP_ALTER_COPY",
    "BACKUP_COMMIT",
];

/// Bit sets over [`BACKUP_TYPES`], written by name so the tables read like MariaDB's.
const fn set(types: &[usize]) -> u16 {
    let mut bits = 0;
    let mut i = 0;
    while i < types.len() {
        bits |= 1 << types[i];
        i += 1;
    }
    bits
}
const START: usize = 0;
const FLUSH: usize = 1;
const WAIT_FLUSH: usize = 2;
const WAIT_DDL: usize = 3;
const WAIT_COMMIT: usize = 4;
const FTWRL1: usize = 5;
const FTWRL2: usize = 6;
const DML: usize = 7;
const TRANS_DML: usize = 8;
const SYS_DML: usize = 9;
const DDL: usize = 10;
const BLOCK_DDL: usize = 11;
const ALTER_COPY: usize = 12;
const COMMIT: usize = 13;

/// `BACKUP_GRANTED[requested]`: the granted backup locks that block the request.
const BACKUP_GRANTED: [u16; 14] = [
    set(&[START, FLUSH, WAIT_FLUSH, WAIT_DDL, WAIT_COMMIT, BLOCK_DDL]),
    set(&[START]),
    set(&[START, DML]),
    set(&[START, DML, DDL]),
    set(&[START, DML, SYS_DML, DDL, COMMIT]),
    set(&[DML, TRANS_DML, SYS_DML, DDL, ALTER_COPY]),
    set(&[DML, TRANS_DML, SYS_DML, DDL, ALTER_COPY, COMMIT]),
    set(&[FLUSH, WAIT_FLUSH, WAIT_DDL, WAIT_COMMIT, FTWRL1, FTWRL2]),
    set(&[FTWRL1, FTWRL2]),
    set(&[WAIT_COMMIT, FTWRL1, FTWRL2]),
    set(&[WAIT_DDL, WAIT_COMMIT, FTWRL1, FTWRL2, BLOCK_DDL]),
    set(&[
        START,
        FLUSH,
        WAIT_FLUSH,
        WAIT_DDL,
        WAIT_COMMIT,
        BLOCK_DDL,
        DDL,
    ]),
    set(&[FTWRL1, FTWRL2]),
    set(&[WAIT_COMMIT, FTWRL2]),
];

/// `BACKUP_PENDING[requested]`: the pending backup locks a request queues behind.
const BACKUP_PENDING: [u16; 14] = [
    set(&[FLUSH, WAIT_FLUSH, WAIT_DDL, WAIT_COMMIT, BLOCK_DDL]),
    0,
    0,
    0,
    0,
    0,
    0,
    set(&[FLUSH, WAIT_FLUSH, WAIT_DDL, WAIT_COMMIT, FTWRL1, FTWRL2]),
    set(&[FTWRL1, FTWRL2]),
    set(&[WAIT_COMMIT, FTWRL1, FTWRL2]),
    set(&[WAIT_DDL, WAIT_COMMIT, FTWRL1, FTWRL2, BLOCK_DDL]),
    set(&[START]),
    set(&[FTWRL1, FTWRL2]),
    set(&[WAIT_COMMIT, FTWRL2]),
];

/// A lock type's name without MariaDB's `MDL_` prefix, upper-case.
fn bare(lock_type: &str) -> String {
    let name = lock_type.trim().to_ascii_uppercase();
    name.strip_prefix("MDL_").unwrap_or(&name).to_owned()
}

fn index(lock_type: &str) -> Option<usize> {
    let name = bare(lock_type);
    OBJECT_TYPES.iter().position(|t| *t == name)
}

fn backup_index(lock_type: &str) -> Option<usize> {
    let name = bare(lock_type);
    BACKUP_TYPES.iter().position(|t| *t == name)
}

/// Whether another session's lock (granted, or pending ahead of us) blocks our pending request.
/// Unknown lock types count as blocking: missing a real wait is worse than one extra edge.
pub(crate) fn blocks(object_type: &str, requested: &str, other: &str, other_granted: bool) -> bool {
    if let (Some(r), Some(o)) = (backup_index(requested), backup_index(other)) {
        let table = if other_granted {
            BACKUP_GRANTED
        } else {
            BACKUP_PENDING
        };
        return table[r] & (1 << o) != 0;
    }
    if is_scoped(object_type) {
        return scoped_blocks(
            &requested.to_ascii_uppercase(),
            &other.to_ascii_uppercase(),
            other_granted,
        );
    }
    match (index(requested), index(other)) {
        (Some(r), Some(o)) if other_granted => GRANTED[r][o],
        (Some(r), Some(o)) => PENDING[r][o],
        _ => true,
    }
}

/// What a lock holder holds, in words a DBA reads at a glance.
pub(crate) fn held(
    object_type: &str,
    object: Option<&str>,
    lock_type: &str,
    granted: bool,
) -> String {
    let lock = bare(lock_type);
    let on = object.filter(|o| !o.is_empty());
    let words = match (object_type.to_ascii_uppercase().as_str(), lock.as_str()) {
        ("GLOBAL", "SHARED") => "global read lock by FLUSH TABLES WITH READ LOCK".to_owned(),
        ("COMMIT", "SHARED") => "commit lock by FLUSH TABLES WITH READ LOCK".to_owned(),
        ("BACKUP", "BACKUP_FTWRL1" | "BACKUP_FTWRL2") => {
            format!("global read lock by FLUSH TABLES WITH READ LOCK ({lock})")
        }
        ("BACKUP", _) if lock.starts_with("BACKUP_") && lock != "BACKUP_DML" => {
            format!("backup lock ({lock})")
        }
        ("BACKUP LOCK" | "BACKUP_LOCK", "SHARED") => {
            "backup lock by LOCK INSTANCE FOR BACKUP".to_owned()
        }
        ("USER LEVEL LOCK", _) => format!("user lock '{}'", on.unwrap_or("?")),
        ("TABLE", "SHARED_NO_READ_WRITE") => {
            format!("LOCK TABLES ... WRITE on {}", on.unwrap_or("?"))
        }
        ("TABLE", "SHARED_READ_ONLY") => format!("LOCK TABLES ... READ on {}", on.unwrap_or("?")),
        ("TABLE", "EXCLUSIVE") => format!("exclusive lock (DDL) on {}", on.unwrap_or("?")),
        ("TABLE", "SHARED_UPGRADABLE" | "SHARED_NO_WRITE") => {
            format!("DDL in progress on {} ({lock})", on.unwrap_or("?"))
        }
        ("TABLE", _) => format!(
            "{lock} on {} (a transaction that used it)",
            on.unwrap_or("?")
        ),
        (kind, _) => match on {
            Some(name) => format!("{} lock on {name} ({lock})", kind.to_ascii_lowercase()),
            None => format!("{} lock ({lock})", kind.to_ascii_lowercase()),
        },
    };
    if granted {
        words
    } else {
        format!("queued request ahead: {words}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_ftwrl_blocks_writers_through_backup_locks() {
        // Measured on MariaDB 10.11: FTWRL holds BACKUP_FTWRL1, then FTWRL2; a writer asks for
        // BACKUP_TRANS_DML (InnoDB) or BACKUP_DML.
        for held in ["BACKUP_FTWRL1", "MDL_BACKUP_FTWRL2"] {
            assert!(blocks("BACKUP", "BACKUP_TRANS_DML", held, true), "{held}");
            assert!(blocks("BACKUP", "MDL_BACKUP_DML", held, true), "{held}");
            assert!(blocks("BACKUP", "BACKUP_DDL", held, true), "{held}");
        }
        assert!(!blocks("BACKUP", "BACKUP_TRANS_DML", "BACKUP_DML", true));
        assert!(!blocks(
            "BACKUP",
            "BACKUP_TRANS_DML",
            "BACKUP_TRANS_DML",
            true
        ));
        assert!(
            blocks("BACKUP", "BACKUP_TRANS_DML", "BACKUP_FTWRL1", false),
            "a pending FTWRL queues writers behind it"
        );
        assert!(
            !blocks("BACKUP", "BACKUP_COMMIT", "BACKUP_FTWRL1", true),
            "FTWRL1 lets commits finish; FTWRL2 stops them"
        );
        assert!(blocks("BACKUP", "BACKUP_COMMIT", "BACKUP_FTWRL2", true));
    }

    #[test]
    fn mariadb_backup_stages_block_ddl_not_reads() {
        assert!(blocks("BACKUP", "BACKUP_DDL", "BACKUP_WAIT_DDL", true));
        assert!(!blocks(
            "BACKUP",
            "BACKUP_TRANS_DML",
            "BACKUP_WAIT_DDL",
            true
        ));
        assert!(blocks("BACKUP", "BACKUP_DML", "BACKUP_FLUSH", true));
    }

    #[test]
    fn mysql_backup_lock_and_user_locks() {
        // LOCK INSTANCE FOR BACKUP holds BACKUP LOCK S; DDL asks for IX.
        assert!(blocks("BACKUP LOCK", "INTENTION_EXCLUSIVE", "SHARED", true));
        // GET_LOCK: EXCLUSIVE on MySQL, SHARED_NO_WRITE on MariaDB.
        assert!(blocks("USER LEVEL LOCK", "EXCLUSIVE", "EXCLUSIVE", true));
        assert!(blocks(
            "USER LEVEL LOCK",
            "SHARED_NO_WRITE",
            "SHARED_NO_WRITE",
            true
        ));
        assert!(blocks("COMMIT", "INTENTION_EXCLUSIVE", "SHARED", true));
        assert!(blocks(
            "TABLESPACE",
            "EXCLUSIVE",
            "INTENTION_EXCLUSIVE",
            true
        ));
    }

    #[test]
    fn held_locks_read_in_plain_words() {
        assert_eq!(
            held("GLOBAL", None, "SHARED", true),
            "global read lock by FLUSH TABLES WITH READ LOCK"
        );
        assert_eq!(
            held("BACKUP", None, "MDL_BACKUP_FTWRL2", true),
            "global read lock by FLUSH TABLES WITH READ LOCK (BACKUP_FTWRL2)"
        );
        assert_eq!(
            held("USER LEVEL LOCK", Some("job"), "EXCLUSIVE", true),
            "user lock 'job'"
        );
        assert_eq!(
            held("TABLE", Some("shop.t"), "SHARED_NO_READ_WRITE", true),
            "LOCK TABLES ... WRITE on shop.t"
        );
        assert!(held("TABLE", Some("shop.t"), "EXCLUSIVE", false).starts_with("queued request"));
    }

    #[test]
    fn alter_waits_for_a_reader_in_a_transaction() {
        // ALTER TABLE upgrades SU to X; a transaction that read the table holds SHARED_READ.
        assert!(blocks("TABLE", "EXCLUSIVE", "SHARED_READ", true));
    }

    #[test]
    fn readers_and_writers_do_not_block_each_other() {
        assert!(!blocks("TABLE", "SHARED_WRITE", "SHARED_READ", true));
        assert!(!blocks("TABLE", "SHARED_READ", "SHARED_WRITE", true));
        assert!(
            !blocks("TABLE", "SHARED_READ", "SHARED_UPGRADABLE", true),
            "ALTER's granted SU lets readers in"
        );
    }

    #[test]
    fn a_pending_exclusive_queues_new_readers_behind_it() {
        assert!(blocks("TABLE", "SHARED_READ", "EXCLUSIVE", false));
        assert!(blocks("TABLE", "SHARED_WRITE", "EXCLUSIVE", false));
        assert!(
            !blocks("TABLE", "SHARED_HIGH_PRIO", "EXCLUSIVE", false),
            "SH (SHOW, I_S) jumps the queue"
        );
        assert!(
            !blocks("TABLE", "EXCLUSIVE", "SHARED_READ", false),
            "pending readers never block X"
        );
    }

    #[test]
    fn lock_tables_read_blocks_writers_not_readers() {
        assert!(blocks("TABLE", "SHARED_WRITE", "SHARED_READ_ONLY", true));
        assert!(!blocks("TABLE", "SHARED_READ", "SHARED_READ_ONLY", true));
    }

    #[test]
    fn every_type_conflicts_with_a_granted_exclusive() {
        for requested in OBJECT_TYPES {
            assert!(blocks("TABLE", requested, "EXCLUSIVE", true), "{requested}");
        }
    }

    #[test]
    fn granted_matrix_is_symmetric() {
        for (r, row) in GRANTED.iter().enumerate() {
            for (g, cell) in row.iter().enumerate() {
                assert_eq!(
                    *cell, GRANTED[g][r],
                    "{} vs {}",
                    OBJECT_TYPES[r], OBJECT_TYPES[g]
                );
            }
        }
    }

    #[test]
    fn pending_conflicts_are_a_subset_of_granted_conflicts() {
        // mdl.cc's invariant [INV2]: moving a lock from waiting to granted unblocks nothing.
        for r in 0..10 {
            for o in 0..10 {
                assert!(
                    !PENDING[r][o] || GRANTED[r][o],
                    "{} vs {}",
                    OBJECT_TYPES[r],
                    OBJECT_TYPES[o]
                );
            }
        }
    }

    #[test]
    fn global_read_lock_blocks_writers() {
        // FLUSH TABLES WITH READ LOCK holds GLOBAL S; a writer asks for GLOBAL IX.
        assert!(blocks("GLOBAL", "INTENTION_EXCLUSIVE", "SHARED", true));
        assert!(!blocks(
            "GLOBAL",
            "INTENTION_EXCLUSIVE",
            "INTENTION_EXCLUSIVE",
            true
        ));
    }

    #[test]
    fn unknown_types_count_as_blocking() {
        assert!(blocks("TABLE", "MDL_BACKUP_DDL", "SHARED_READ", true));
        assert!(
            !blocks("TABLE", "mdl_shared_read", "MDL_SHARED_WRITE", true),
            "prefix and case tolerated"
        );
    }
}
