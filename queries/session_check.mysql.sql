-- Read back the session set-up (MySQL, Aurora): read only, and the server-side statement limit in ms.
SELECT @@session.transaction_read_only, CONCAT('max_execution_time=', @@session.max_execution_time)
