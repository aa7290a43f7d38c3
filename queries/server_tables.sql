-- Which diagnostic tables exist: decides the source of each probe. Filtered on schema and name,
-- so the data dictionary answers without opening any table.
SELECT TABLE_SCHEMA, TABLE_NAME
FROM information_schema.TABLES
WHERE (TABLE_SCHEMA = 'performance_schema'
       AND TABLE_NAME IN ('data_lock_waits', 'data_locks', 'processlist', 'metadata_locks', 'threads',
                          'events_statements_current', 'events_statements_history', 'error_log',
                          'table_handles', 'events_transactions_current'))
   OR (TABLE_SCHEMA = 'information_schema'
       AND TABLE_NAME IN ('INNODB_LOCK_WAITS', 'INNODB_LOCKS', 'INNODB_TRX', 'INNODB_METRICS', 'PROCESSLIST',
                          'METADATA_LOCK_INFO'))
   OR (TABLE_SCHEMA = 'sys' AND TABLE_NAME IN ('sys_config', 'innodb_lock_waits'))
