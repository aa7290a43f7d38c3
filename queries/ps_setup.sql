-- What performance_schema records, in one statement: whether metadata locks are instrumented
-- (metadata_locks is filled only then), and whether each session's current and recent
-- statements are kept (needed for the last statement of idle sessions; on by default in MySQL,
-- off by default in MariaDB).
SELECT NAME, ENABLED FROM performance_schema.setup_instruments
WHERE NAME = 'wait/lock/metadata/sql/mdl'
UNION ALL
SELECT NAME, ENABLED FROM performance_schema.setup_consumers
WHERE NAME IN ('events_statements_current', 'events_statements_history')
