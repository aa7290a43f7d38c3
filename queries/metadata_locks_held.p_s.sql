-- Metadata locks one session holds (when the MDL instrument is on).
SELECT m.OBJECT_TYPE AS object_type, CONCAT_WS('.', m.OBJECT_SCHEMA, m.OBJECT_NAME) AS object_name,
       m.LOCK_TYPE AS lock_type, m.LOCK_DURATION AS lock_duration
FROM performance_schema.threads t
JOIN performance_schema.metadata_locks m ON m.OWNER_THREAD_ID = t.THREAD_ID
WHERE t.PROCESSLIST_ID = ? AND m.LOCK_STATUS = 'GRANTED'
