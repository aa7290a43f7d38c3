-- Row-lock waits (MySQL 8.0+, Aurora 3) of the waiters given as a comma-separated list of
-- processlist ids, through requests queued ahead of them: asked only for waiters with no edge to
-- a granted lock (a shared request queued behind an exclusive one, say). Same access path as
-- lock_waits.p_s.sql.
SELECT rt.trx_mysql_thread_id AS waiting_pid, bt.trx_mysql_thread_id AS blocking_pid,
       CONCAT(rl.OBJECT_SCHEMA, '.', rl.OBJECT_NAME) AS locked_table, rl.INDEX_NAME AS locked_index,
       rl.LOCK_TYPE AS lock_type, rl.LOCK_MODE AS waiting_mode, bl.LOCK_MODE AS blocking_mode,
       'WAITING' AS blocking_lock_status,
       TIMESTAMPDIFF(SECOND, rt.trx_wait_started, NOW()) AS wait_s
FROM performance_schema.data_lock_waits w
STRAIGHT_JOIN information_schema.INNODB_TRX rt ON rt.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
STRAIGHT_JOIN information_schema.INNODB_TRX bt ON bt.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
LEFT JOIN performance_schema.data_locks rl
       ON rl.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID AND rl.ENGINE = w.ENGINE
LEFT JOIN performance_schema.data_locks bl
       ON bl.ENGINE_LOCK_ID = w.BLOCKING_ENGINE_LOCK_ID AND bl.ENGINE = w.ENGINE
WHERE bt.trx_requested_lock_id <=> w.BLOCKING_ENGINE_LOCK_ID
  AND FIND_IN_SET(rt.trx_mysql_thread_id, ?)
