-- Accounts with their own connection limit (needs SELECT on mysql.user; skipped without it).
SELECT User, Host, max_user_connections FROM mysql.user WHERE max_user_connections > 0
