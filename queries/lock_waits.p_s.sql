-- Row-lock waits (MySQL 8.0+, Aurora 3). Starts from data_lock_waits and reaches data_locks only by
-- its primary key (ENGINE_LOCK_ID, ENGINE): never a scan of data_locks (MySQL bug #111082).
SELECT rt.trx_mysql_thread_id AS waiting_pid, bt.trx_mysql_thread_id AS blocking_pid,
       CONCAT(rl.OBJECT_SCHEMA, '.', rl.OBJECT_NAME) AS locked_table, rl.INDEX_NAME AS locked_index,
       rl.LOCK_TYPE AS lock_type, rl.LOCK_MODE AS waiting_mode, bl.LOCK_MODE AS blocking_mode,
       bl.LOCK_STATUS AS blocking_lock_status,
       TIMESTAMPDIFF(SECOND, rt.trx_wait_started, NOW()) AS wait_s
FROM performance_schema.data_lock_waits w
JOIN information_schema.INNODB_TRX rt ON rt.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
JOIN information_schema.INNODB_TRX bt ON bt.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
LEFT JOIN performance_schema.data_locks rl
       ON rl.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID AND rl.ENGINE = w.ENGINE
LEFT JOIN performance_schema.data_locks bl
       ON bl.ENGINE_LOCK_ID = w.BLOCKING_ENGINE_LOCK_ID AND bl.ENGINE = w.ENGINE
