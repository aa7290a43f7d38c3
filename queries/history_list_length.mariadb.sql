-- History list length (purge lag) from the InnoDB metrics counter (MariaDB: ENABLED column).
SELECT `COUNT` AS hll, `ENABLED` = 1 AS counting
FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'
