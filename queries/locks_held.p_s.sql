-- Row and table locks one transaction holds or waits for (MySQL 8.0+), summarised. Reached through
-- the ENGINE_TRANSACTION_ID index: only this transaction's locks are read.
SELECT CONCAT(OBJECT_SCHEMA, '.', OBJECT_NAME) AS locked_table, INDEX_NAME AS locked_index,
       LOCK_TYPE AS lock_type, LOCK_MODE AS lock_mode, LOCK_STATUS AS lock_status, COUNT(*) AS locks
FROM performance_schema.data_locks
WHERE ENGINE_TRANSACTION_ID = ?
GROUP BY locked_table, locked_index, lock_type, lock_mode, lock_status
