-- The server's own clock, for the evidence record.
SELECT DATE_FORMAT(NOW(6), '%Y-%m-%d %H:%i:%s.%f')
