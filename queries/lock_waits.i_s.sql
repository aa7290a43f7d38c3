-- Row-lock waits (MySQL 5.7, Aurora 2, MariaDB): each waiter's edges to GRANTED locks, from
-- information_schema.INNODB_LOCK_WAITS with the two locks from INNODB_LOCKS by their ids.
--
-- On a hot row InnoDB reports every waiter as blocked by every request queued ahead of it: n
-- waiters make n(n+1)/2 edges. A blocking lock that is its owner's own pending request
-- (INNODB_TRX.trx_requested_lock_id) is such a place in the queue, not a granted lock; those edges
-- are dropped here. (Queue edges of a waiter with no granted blocker: lock_waits_queued.i_s.sql.)
--
-- The information_schema tables have no indexes, and joined directly each join is a nested loop:
-- 600 waiters on one row took 32 s on MariaDB 10.11. Each table is read into a derived table
-- (DISTINCT keeps it from being merged back), which the server indexes on the join column.
SELECT rt.pid AS waiting_pid, bt.pid AS blocking_pid,
       rl.lock_table AS locked_table, rl.lock_index AS locked_index, rl.lock_type AS lock_type,
       rl.lock_mode AS waiting_mode, bl.lock_mode AS blocking_mode,
       'GRANTED' AS blocking_lock_status,
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
WHERE NOT (bt.requested_lock <=> w.blocking_lock_id)
