-- Every granted metadata lock, from MariaDB's metadata_lock_info plugin (INSTALL SONAME
-- 'metadata_lock_info'): the holders that performance_schema would show, with it off. THREAD_ID
-- is the connection id. Pending requests are not listed; mytriage reads them from thread states.
SELECT THREAD_ID AS pid, LOCK_MODE AS lock_mode, LOCK_TYPE AS lock_type,
       TABLE_SCHEMA AS table_schema, TABLE_NAME AS table_name
FROM information_schema.METADATA_LOCK_INFO
