-- Row-lock waits (MySQL 5.7, Aurora 2, MariaDB): information_schema.INNODB_LOCK_WAITS, with the
-- two locks from INNODB_LOCKS by their ids. A blocking lock that is its owner's own pending request
-- is a place in the queue, not a granted lock.
SELECT rt.trx_mysql_thread_id AS waiting_pid, bt.trx_mysql_thread_id AS blocking_pid,
       rl.lock_table AS locked_table, rl.lock_index AS locked_index, rl.lock_type AS lock_type,
       rl.lock_mode AS waiting_mode, bl.lock_mode AS blocking_mode,
       IF(bt.trx_requested_lock_id <=> w.blocking_lock_id, 'WAITING', 'GRANTED') AS blocking_lock_status,
       TIMESTAMPDIFF(SECOND, rt.trx_wait_started, NOW()) AS wait_s
FROM information_schema.INNODB_LOCK_WAITS w
JOIN information_schema.INNODB_TRX rt ON rt.trx_id = w.requesting_trx_id
JOIN information_schema.INNODB_TRX bt ON bt.trx_id = w.blocking_trx_id
LEFT JOIN information_schema.INNODB_LOCKS rl ON rl.lock_id = w.requested_lock_id
LEFT JOIN information_schema.INNODB_LOCKS bl ON bl.lock_id = w.blocking_lock_id
