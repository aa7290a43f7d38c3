-- Locks of one transaction that take part in a wait (MySQL 5.7, MariaDB: INNODB_LOCKS lists no
-- other locks), summarised.
SELECT lock_table AS locked_table, lock_index AS locked_index, lock_type, lock_mode,
       IF(lock_id = (SELECT trx_requested_lock_id FROM information_schema.INNODB_TRX WHERE trx_id = ?),
          'WAITING', 'GRANTED') AS lock_status,
       COUNT(*) AS locks
FROM information_schema.INNODB_LOCKS
WHERE lock_trx_id = ?
GROUP BY locked_table, locked_index, lock_type, lock_mode, lock_status
