-- One `top` sample from performance_schema: every active foreground session with its current
-- wait event, statement digest and InnoDB transaction state. No data_locks, no history tables.
SELECT t.PROCESSLIST_ID AS pid, t.PROCESSLIST_USER AS user, t.PROCESSLIST_HOST AS host,
       t.PROCESSLIST_DB AS db, t.PROCESSLIST_COMMAND AS command, t.PROCESSLIST_STATE AS state,
       t.PROCESSLIST_INFO AS info, w.EVENT_NAME AS wait_event,
       s.DIGEST AS digest, s.DIGEST_TEXT AS digest_text, trx.trx_state
FROM performance_schema.threads t
LEFT JOIN performance_schema.events_waits_current w
       ON w.THREAD_ID = t.THREAD_ID AND w.END_EVENT_ID IS NULL
LEFT JOIN performance_schema.events_statements_current s
       ON s.THREAD_ID = t.THREAD_ID AND s.NESTING_EVENT_LEVEL = 0
LEFT JOIN information_schema.INNODB_TRX trx ON trx.trx_mysql_thread_id = t.PROCESSLIST_ID
WHERE t.TYPE = 'FOREGROUND'
  AND t.PROCESSLIST_ID <> CONNECTION_ID()
  AND t.PROCESSLIST_COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump', 'Binlog Dump GTID')
