-- Whether performance_schema keeps each session's current statement (needed for the last statement
-- of idle sessions). On by default in MySQL, off by default in MariaDB.
SELECT NAME FROM performance_schema.setup_consumers
WHERE NAME IN ('events_statements_current', 'events_statements_history') AND ENABLED = 'YES'
