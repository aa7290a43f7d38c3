-- Row-lock waits (MySQL 8.0+, Aurora 3): each waiter's edges to GRANTED locks. Starts from
-- data_lock_waits and reaches data_locks only by its primary key (ENGINE_LOCK_ID, ENGINE): never a
-- scan of data_locks (MySQL bug #111082).
--
-- On a hot row InnoDB reports every waiter as blocked by every request queued ahead of it: n
-- waiters make n(n+1)/2 edges. A blocking lock that is its owner's own pending request
-- (INNODB_TRX.trx_requested_lock_id) is such a place in the queue, not a granted lock; those edges
-- are dropped here, before data_locks is looked up, so the lookups are about one per waiter.
-- (Queue edges of a waiter with no granted blocker: lock_waits_queued.p_s.sql.)
--
-- STRAIGHT_JOIN reads data_lock_waits once, first. Left to itself the optimizer drives from
-- INNODB_TRX and probes data_lock_waits by index once per pair of transactions; each probe walks
-- the lock system again, and 600 waiters on one row then took over 50 s (MySQL 9.7).
SELECT rt.trx_mysql_thread_id AS waiting_pid, bt.trx_mysql_thread_id AS blocking_pid,
       CONCAT(rl.OBJECT_SCHEMA, '.', rl.OBJECT_NAME) AS locked_table, rl.INDEX_NAME AS locked_index,
       rl.LOCK_TYPE AS lock_type, rl.LOCK_MODE AS waiting_mode, bl.LOCK_MODE AS blocking_mode,
       'GRANTED' AS blocking_lock_status,
       TIMESTAMPDIFF(SECOND, rt.trx_wait_started, NOW()) AS wait_s
FROM performance_schema.data_lock_waits w
STRAIGHT_JOIN information_schema.INNODB_TRX rt ON rt.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
STRAIGHT_JOIN information_schema.INNODB_TRX bt ON bt.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID
LEFT JOIN performance_schema.data_locks rl
       ON rl.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID AND rl.ENGINE = w.ENGINE
LEFT JOIN performance_schema.data_locks bl
       ON bl.ENGINE_LOCK_ID = w.BLOCKING_ENGINE_LOCK_ID AND bl.ENGINE = w.ENGINE
WHERE NOT (bt.trx_requested_lock_id <=> w.BLOCKING_ENGINE_LOCK_ID)
