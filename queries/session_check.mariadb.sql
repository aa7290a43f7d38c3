-- Read back the session set-up (MariaDB): read only, and the server-side statement limit in seconds.
SELECT @@session.tx_read_only, CONCAT('max_statement_time=', @@session.max_statement_time)
