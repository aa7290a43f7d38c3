//! Metadata-lock compatibility: which lock types really block which. The tables transcribe the
//! granted-compatibility and pending-priority matrices documented in MySQL's `sql/mdl.cc`
//! (the default priority matrix). sys.schema_table_lock_waits reports every holder of the table;
//! mytriage keeps only holders whose lock conflicts with the waiter's request.

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

fn index(lock_type: &str) -> Option<usize> {
    let name = lock_type.trim().to_ascii_uppercase();
    let name = name.strip_prefix("MDL_").unwrap_or(&name);
    OBJECT_TYPES.iter().position(|t| *t == name)
}

/// Whether another session's lock (granted, or pending ahead of us) blocks our pending request.
/// Unknown lock types count as blocking: missing a real wait is worse than one extra edge.
pub(crate) fn blocks(object_type: &str, requested: &str, other: &str, other_granted: bool) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
