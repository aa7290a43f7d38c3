-- The processlist when information_schema.PROCESSLIST cannot be read: MySQL 8+ refuses the whole
-- table (error 3854) while any session runs a statement with a 4-byte character, because the
-- table's INFO column is utf8mb3. SHOW FULL PROCESSLIST does not convert.
SHOW FULL PROCESSLIST
