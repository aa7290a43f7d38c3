-- Which sessions hold a table open: the sessions a "Waiting for table flush" waits for. Read
-- only while some session is in that state.
SELECT t.PROCESSLIST_ID AS pid, CONCAT(h.OBJECT_SCHEMA, '.', h.OBJECT_NAME) AS object
FROM performance_schema.table_handles h
JOIN performance_schema.threads t ON t.THREAD_ID = h.OWNER_THREAD_ID
WHERE h.OBJECT_TYPE = 'TABLE' AND t.PROCESSLIST_ID IS NOT NULL
