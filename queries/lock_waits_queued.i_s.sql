-- Row-lock waits (MySQL 5.7, Aurora 2, MariaDB) of the waiters given as a comma-separated list of
-- processlist ids, through requests queued ahead of them: asked only for waiters with no edge to
-- a granted lock (a shared request queued behind an exclusive one, say). Same access path as
-- lock_waits.i_s.sql.
SELECT rt.pid AS waiting_pid, bt.pid AS blocking_pid,
       rl.lock_table AS locked_table, rl.lock_index AS locked_index, rl.lock_type AS lock_type,
       rl.lock_mode AS waiting_mode, bl.lock_mode AS blocking_mode,
       'WAITING' AS blocking_lock_status,
       TIMESTAMPDIFF(SECOND, rt.wait_started, NOW()) AS wait_s
FROM information_schema.INNODB_LOCK_WAITS w
JOIN (SELECT DISTINCT trx_id, trx_mysql_thread_id AS pid, trx_requested_lock_id AS requested_lock,
             trx_wait_started AS wait_started
      FROM information_schema.INNODB_TRX) rt ON rt.trx_id = w.requesting_trx_id
JOIN (SELECT DISTINCT trx_id, trx_mysql_thread_id AS pid, trx_requested_lock_id AS requested_lock
      FROM information_schema.INNODB_TRX) bt ON bt.trx_id = w.blocking_trx_id
LEFT JOIN (SELECT DISTINCT lock_id, lock_table, lock_index, lock_type, lock_mode
           FROM information_schema.INNODB_LOCKS) rl ON rl.lock_id = w.requested_lock_id
LEFT JOIN (SELECT DISTINCT lock_id, lock_mode
           FROM information_schema.INNODB_LOCKS) bl ON bl.lock_id = w.blocking_lock_id
WHERE bt.requested_lock <=> w.blocking_lock_id
  AND FIND_IN_SET(rt.pid, ?)
