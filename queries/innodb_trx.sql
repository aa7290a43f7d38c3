-- Open InnoDB transactions, joined to SHOW FULL PROCESSLIST rows in the client (the fallback
-- beside show_full_processlist.sql).
SELECT trx_mysql_thread_id AS id, trx_id, trx_state, TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS trx_age_s,
       trx_rows_locked, trx_rows_modified, trx_isolation_level,
       TIMESTAMPDIFF(SECOND, trx_wait_started, NOW()) AS lock_wait_s
FROM information_schema.INNODB_TRX
