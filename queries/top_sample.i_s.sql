-- One `top` sample without performance_schema: active sessions from information_schema.PROCESSLIST
-- with their InnoDB transaction state; wait classes come from the thread state and digests from
-- client-side normalisation.
SELECT p.ID AS pid, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command,
       p.STATE AS state, p.INFO AS info, NULL AS wait_event, NULL AS digest, NULL AS digest_text,
       trx.trx_state
FROM information_schema.PROCESSLIST p
LEFT JOIN information_schema.INNODB_TRX trx ON trx.trx_mysql_thread_id = p.ID
WHERE p.ID <> CONNECTION_ID()
  AND p.COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump', 'Binlog Dump GTID')
