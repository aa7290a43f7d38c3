-- One session's identity, read just before the kill to re-verify it is the session snapshotted:
-- same user and host, same transaction (id and start) or, without one, the same statement.
-- MariaDB: QUERY_ID grows with every statement the session runs, read live (INNODB_TRX is a
-- cache refreshed at most every 100 ms, so it alone could miss a transaction that just changed).
SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.COMMAND AS command, p.STATE AS state,
       p.INFO AS info, t.trx_id, DATE_FORMAT(t.trx_started, '%Y-%m-%d %H:%i:%s') AS trx_started,
       t.trx_state, t.trx_rows_modified, p.QUERY_ID AS activity
FROM information_schema.PROCESSLIST p
LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
WHERE p.ID = ?
