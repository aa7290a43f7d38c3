-- The connection holding a user-level lock (GET_LOCK), by name: the server's own answer where
-- performance_schema does not list user locks. Read only while some session waits for one.
SELECT IS_USED_LOCK(?) AS holder
