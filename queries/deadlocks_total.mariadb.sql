-- Deadlocks since the server started (MariaDB keeps a status counter).
SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'
