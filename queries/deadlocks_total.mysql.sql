-- Deadlocks since the server started (MySQL, Aurora: the InnoDB metrics counter, on by default).
SELECT NAME, CAST(`COUNT` AS CHAR) FROM information_schema.INNODB_METRICS
WHERE NAME = 'lock_deadlocks' AND `STATUS` = 'enabled'
