-- Deadlocks the server logged (innodb_print_all_deadlocks, MySQL 8.0.22+): performance_schema.error_log
-- keeps the "WE ROLL BACK TRANSACTION (n)" line of each, when log_error_verbosity is 3; the full
-- text goes to the error log file only.
SELECT DATE_FORMAT(LOGGED, '%Y-%m-%d %H:%i:%s.%f') AS logged, DATA AS data
FROM performance_schema.error_log
WHERE SUBSYSTEM = 'InnoDB' AND DATA LIKE '%WE ROLL BACK TRANSACTION%'
ORDER BY LOGGED
