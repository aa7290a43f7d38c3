-- History list length (purge lag) from the InnoDB metrics counter (MySQL, Aurora: STATUS column).
SELECT `COUNT` AS hll, `STATUS` = 'enabled' AS counting
FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'
