-- Threads with their InnoDB transaction, from information_schema.PROCESSLIST: the fallback when
-- performance_schema is off (MariaDB's default, often Aurora and RDS).
-- INNODB_TRX is read into a DISTINCT derived table, which the server indexes on the join column:
-- joined directly, MariaDB 10.11 compared every session with every transaction (a block nested
-- loop), 25 ms for 1,200 sessions and 200 transactions; this takes 4 ms.
SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command,
       p.TIME AS time_s, p.STATE AS state, p.INFO AS info,
       t.trx_id, t.trx_state, TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS trx_age_s,
       t.trx_rows_locked, t.trx_rows_modified, t.trx_isolation_level,
       TIMESTAMPDIFF(SECOND, t.trx_wait_started, NOW()) AS lock_wait_s
FROM information_schema.PROCESSLIST p
LEFT JOIN (SELECT DISTINCT trx_id, trx_mysql_thread_id, trx_state, trx_started, trx_rows_locked,
                  trx_rows_modified, trx_isolation_level, trx_wait_started
           FROM information_schema.INNODB_TRX) t ON t.trx_mysql_thread_id = p.ID
WHERE p.ID <> CONNECTION_ID()
