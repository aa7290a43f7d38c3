-- The last statement of every session inside a transaction. For an idle session,
-- events_statements_current still holds the statement it ran last: the answer to
-- "blocking query: NULL".
SELECT th.PROCESSLIST_ID AS pid, esc.SQL_TEXT AS last_statement
FROM information_schema.INNODB_TRX trx
JOIN performance_schema.threads th ON th.PROCESSLIST_ID = trx.trx_mysql_thread_id
JOIN performance_schema.events_statements_current esc ON esc.THREAD_ID = th.THREAD_ID
WHERE esc.SQL_TEXT IS NOT NULL
