-- One session's identity, read just before the kill to re-verify it is the session snapshotted:
-- same user and host, same transaction (id and start) or, without one, the same statement
-- (MySQL 8.0.22+). performance_schema.processlist, because information_schema.PROCESSLIST refuses
-- to be read at all (error 3854) while any session runs a statement with a 4-byte character.
-- The activity marker is the id of the session's current or last statement event, read live
-- (INNODB_TRX is a cache refreshed at most every 100 ms, so it alone could miss a change).
SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.COMMAND AS command, p.STATE AS state,
       p.INFO AS info, t.trx_id, DATE_FORMAT(t.trx_started, '%Y-%m-%d %H:%i:%s') AS trx_started,
       t.trx_state, t.trx_rows_modified,
       (SELECT MAX(e.EVENT_ID) FROM performance_schema.threads th
        JOIN performance_schema.events_statements_current e ON e.THREAD_ID = th.THREAD_ID
        WHERE th.PROCESSLIST_ID = p.ID) AS activity
FROM performance_schema.processlist p
LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
WHERE p.ID = ?
