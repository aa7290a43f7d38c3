-- Whether the RDS kill procedures exist and this account may run them.
SELECT ROUTINE_NAME FROM information_schema.ROUTINES
WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME IN ('rds_kill', 'rds_kill_query')
