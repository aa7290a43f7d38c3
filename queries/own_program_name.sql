-- The program_name connection attribute of our own session, as DBAs see it (performance_schema).
SELECT ATTR_VALUE
FROM performance_schema.session_connect_attrs
WHERE PROCESSLIST_ID = CONNECTION_ID() AND ATTR_NAME = 'program_name'
